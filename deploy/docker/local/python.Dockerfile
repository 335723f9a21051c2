# Test-only stand-in for python:3.10-slim-bookworm where no image registry can be reached:
# Debian bookworm from debootstrap (trialbot-base:bookworm, deploy/tools/images.py) plus the
# pyenv-built CPython 3.10 of the build machine, copied to the same path (its libpython is found
# by an absolute RPATH). Build context: that Python's prefix, e.g. $(pyenv root)/versions/3.10.13.
ARG BASE_IMAGE=trialbot-base:bookworm
FROM ${BASE_IMAGE}
ARG PYTHON_PREFIX
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
# The shared libraries CPython's extension modules link against (python:3.10-slim has them).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates netbase tzdata libssl3 libffi8 \
      libsqlite3-0 libbz2-1.0 liblzma5 zlib1g libreadline8 libncursesw6 libuuid1 libgdbm6 \
      libexpat1 libnsl2 libtirpc3 libcrypt1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY . ${PYTHON_PREFIX}/
RUN mkdir -p "${PYTHON_PREFIX}/lib/python3.10/site-packages"
# /root must be traversable for the non-root users of the images built on top.
RUN set -eu; d="${PYTHON_PREFIX}"; while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done; \
    for name in python3.10 python3 python; do \
      ln -sf "${PYTHON_PREFIX}/bin/$name" "/usr/local/bin/$name"; done; \
    python3 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, readline; print("python", __import__("sys").version)'
CMD ["python3"]
