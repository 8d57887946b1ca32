# syntax=docker/dockerfile:1
#
# resetbot container image: a static binary on distroless, running as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t resetbot .
#   docker run --rm resetbot version
#   docker run --rm resetbot demo
#
# The first build takes a few minutes; the cache mounts below keep later builds fast.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# CGO_ENABLED=0: the SQLite driver (modernc.org/sqlite) and pgx are pure Go, so the binary is
# fully static and needs no libc in the final image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/resetbot ./cmd/resetbot
# An empty directory for SQLite, owned by distroless's nonroot user (65532): the final image
# has no shell to create it.
RUN mkdir -p /out/data

# distroless/static carries CA certificates, /etc/passwd with nonroot, and tzdata; nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/resetbot /resetbot
COPY --from=build --chown=65532:65532 /out/data /data
# With the default RESETBOT_DATABASE_URL (resetbot.db in the working directory) SQLite writes to
# /data: mount a volume there to keep requests and the audit log across restarts. Replicas use
# PostgreSQL instead (RESETBOT_DATABASE_URL=postgres://…) and need no volume.
WORKDIR /data
VOLUME ["/data"]
USER 65532:65532
# /healthz, /readyz, /metrics and /hooks/okta, when RESETBOT_HTTP_ADDR=:8080.
EXPOSE 8080
ENV RESETBOT_HTTP_ADDR=:8080
ENTRYPOINT ["/resetbot"]
CMD ["run"]
