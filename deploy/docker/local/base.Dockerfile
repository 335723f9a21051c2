# trialbot-base:bookworm: the debootstrap root (imported by deploy/tools/images.py as
# trialbot-base:bookworm-debootstrap) with bookworm's updates and security fixes applied.
ARG BASE_IMAGE=trialbot-base:bookworm-debootstrap
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# As Debian's official images: apt keeps no package caches in a layer.
RUN printf '%s\n' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
      'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };' \
      > /etc/apt/apt.conf.d/docker-clean \
 && apt-get update && apt-get -y upgrade && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
CMD ["/bin/bash"]
