#!/usr/bin/env bash
# Install the Elasticsearch node that sentinel's tests and benchmarks run against.
#
# Elastic publishes a runnable, stripped-down node on Maven Central
# (org.elasticsearch.distribution.integ-test-zip): core server + security +
# netty transport, no GET /, few modules.  This script fetches it once with
# Maven, unzips it into $SENTINEL_ES_HOME (default: <repo>/.services/elasticsearch,
# git-ignored) and creates the non-root user it runs as (Elasticsearch refuses
# to run as root).  Re-running is cheap: every step is skipped when done.
#
# Environment:
#   SENTINEL_ES_VERSION  8.x release to install (default 8.19.3; runs on Java 17)
#   SENTINEL_ES_HOME     where to unzip (default <repo>/.services/elasticsearch)
#   SENTINEL_ES_USER     the service user (default sentinel-es)
# Prints the install directory on its last line.
set -euo pipefail

version="${SENTINEL_ES_VERSION:-8.19.3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
home="${SENTINEL_ES_HOME:-$repo/.services/elasticsearch}"
user="${SENTINEL_ES_USER:-sentinel-es}"
dest="$home/elasticsearch-$version"

if [ ! -x "$dest/bin/elasticsearch" ]; then
  command -v mvn >/dev/null || { echo "install-elasticsearch: mvn not found (apt-get install -y maven)" >&2; exit 1; }
  command -v unzip >/dev/null || { echo "install-elasticsearch: unzip not found (apt-get install -y unzip)" >&2; exit 1; }
  mkdir -p "$home"
  dl="$(mktemp -d "$home/.download.XXXXXX")"
  trap 'rm -rf "$dl"' EXIT
  mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$version:zip" \
    "-DoutputDirectory=$dl" >&2
  unzip -q "$dl/elasticsearch-$version.zip" -d "$dl/unpacked"
  rm -rf "$dest"
  mv "$dl/unpacked/elasticsearch-$version" "$dest"
fi

if [ "$(id -u)" = 0 ]; then
  if ! id "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  # The node only reads its install dir (config is copied to a temp dir per run),
  # but every parent directory must be traversable by the service user.
  chmod -R a+rX "$dest"
  d="$dest"
  while [ "$d" != "/" ]; do chmod a+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
fi

echo "$dest"
