# cunxiang (村响) — the service on Debian with ffmpeg and espeak-ng.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg espeak-ng \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/cunxiang
COPY pyproject.toml README.md ./
COPY app ./app
COPY audio/chimes ./audio/chimes
COPY schedules ./schedules
RUN pip install --no-cache-dir .
# The pinyin phrasebook is built from the installed packages once, here, not at each start.
ENV CUNXIANG_PHRASE_CACHE=/srv/cunxiang/phrasebook
RUN python -c "from app.rendering.phrasebook import phrasebook; phrasebook()"

ENV CUNXIANG_HOST=0.0.0.0 \
    CUNXIANG_PORT=8000 \
    CUNXIANG_DATABASE_URL=sqlite:////data/cunxiang.db \
    CUNXIANG_MEDIA_DIR=/data/media
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["cunxiang", "serve"]
