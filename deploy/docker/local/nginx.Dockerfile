# Test-only stand-in for the official nginx image: Debian bookworm's nginx 1.22, run in the
# foreground as the image's command, config at /etc/nginx/nginx.conf, logs to stdout/stderr.
ARG BASE_IMAGE=trialbot-base:bookworm
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
