# Dockerfile — the wsferry server as a FROM scratch image: the static musl
# binary of `make static` (BearSSL built from Debian's source package, as
# test/static-deps.sh does everywhere), the CA bundle for client mode, and
# nothing else.
#   docker build -t wsferry .
#   docker run -d -p 8080:8080 -v "$PWD/key:/key:ro" wsferry server --key-file /key
# The server honours ming-mong's variables when the matching flags are absent
# (wsferry(1), ENVIRONMENT): PORT (here 8080: it listens on 0.0.0.0:$PORT),
# ENABLE_TLS=true, TLS_CERT_FILE / TLS_KEY_FILE (default ./server.crt and
# ./server.key, relative to WORKDIR /data; missing files: a self-signed
# certificate, its fingerprint in `docker logs`). README has more `docker run`
# lines.

FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	make gcc libc6-dev dpkg-dev file git ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# --version names the revision: git describe needs to trust the copied tree
RUN git config --global --add safe.directory /src && make static

FROM scratch
COPY --from=build /src/build-static/wsferry /wsferry
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# ./server.crt, ./server.key (TLS_CERT_FILE, TLS_KEY_FILE defaults) live here
WORKDIR /data
# nobody: the default port needs no privilege; mounted key and certificate
# files must be readable by uid 65534
USER 65534:65534
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/wsferry"]
CMD ["server"]
