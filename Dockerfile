# syntax=docker/dockerfile:1
#
# FrameForge container image: a static Go binary on distroless static:nonroot
# (CA certificates, tzdata, /tmp, a nonroot user; no shell, no package
# manager). Build:
#
#   docker build -t frameforge .
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(date -u +%FT%TZ) -t frameforge:v1.2.3 .
#
# Run (docs/deploy.md has the rest):
#
#   docker run -p 8000:8000 -v frameforge-data:/data -e GOOGLE_API_KEY frameforge
#
# cmd/frameforge's TestStaticBinaryInEmptyRoot runs the binary the way this
# image does (same ENV, uid 65532, nothing but the binary and CA
# certificates), since the test machines cannot run Docker.

ARG GO_VERSION=1.26.8

# The builder runs on the build machine's platform and cross-compiles
# (pure Go, CGO_ENABLED=0), so a multi-platform build needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# -tags nodynamic: the HEIC/AVIF decoders run their own WebAssembly build of
# libheif/libavif and never look for a system library, which would make the
# binary ask for a dynamic loader (docs/imaging.md).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -tags nodynamic \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/frameforge ./cmd/frameforge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
# The port the server listens on; the health check reads the same variable.
ARG PORT=8000
LABEL org.opencontainers.image.title="FrameForge" \
      org.opencontainers.image.description="AI image editing gateway for virtual home staging (Gemini, fal.ai, OpenAI)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}" \
      org.opencontainers.image.documentation="docs/deploy.md"
COPY --from=build /out/frameforge /usr/local/bin/frameforge
# The data directory belongs to the nonroot user (65532), so a fresh named
# volume mounted there is writable.
COPY --from=build --chown=65532:65532 /out/data /data
# Listen on every interface of the container; keep jobs, images and the
# generated secrets in /data; logs as JSON for a collector.
ENV SERVER_HOST=0.0.0.0 \
    SERVER_PORT=${PORT} \
    DATA_DIR=/data \
    LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE ${PORT}
USER 65532:65532
# No shell or curl in the image: the binary asks its own /api/ready.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/frameforge", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/frameforge"]
