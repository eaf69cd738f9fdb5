"""The server behind `seq2seq serve`: an HTTP API and a small web page, for a model of any task.

- `languages.py` the names of the language codes a server lists (its settings: config.ServeConfig)
- `batcher.py`  Batcher: the one model worker; queues requests and coalesces them into searches
- `payload.py`  reading and checking request bodies (JSON, form data, multipart uploads), one
                sentence per error
- `speech.py`   SpeechTranslator: a speech checkpoint's Transcriber as the batcher sees a translator
- `transcribe.py` POST /v1/transcribe: uploaded recordings -> transcripts (speech models)
- `schemas.py`  the request and response models (they also make the OpenAPI docs at /docs)
- `metrics.py`  Prometheus counters and histograms, served at /metrics
- `keys.py`     optional API keys read from a file
- `page.py`     the self-contained web page served at /
- `app.py`      create_app(translator, config): the FastAPI application
- `server.py`   bind(host, port) before the model loads; uvicorn with graceful shutdown on SIGTERM

Importing this package imports nothing heavy; `seq2seq.serve.app` brings FastAPI and PyTorch.
"""
