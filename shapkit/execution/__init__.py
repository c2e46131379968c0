"""Where the rows of a :class:`~shapkit.rows.RowJob` are explained: in this process or on
worker processes (:mod:`.local`), on Dask (:mod:`.dask`), chunk by chunk into a
resumable Parquet dataset (:mod:`.resumable`), with a progress bar (:mod:`.progress`).
Nothing here imports the explainer: backends receive a job (``Explainer.row_job``)."""
