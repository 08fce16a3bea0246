# IronLB images for machines with a Docker engine (`make images` builds the same
# images without one). One stage per program:
#
#   docker build --target controller -t ghcr.io/ironlb/ironlb-controller:0.1.0 .
#   docker build --target speaker    -t ghcr.io/ironlb/ironlb-speaker:0.1.0 .
#
# Both binaries are static (CGO_ENABLED=0) and run on distroless "static" as the
# nonroot user. The chart runs the speaker as root with every capability dropped
# except NET_RAW (see charts/ironlb/templates/speaker-daemonset.yaml).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY speaker/ speaker/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ironlb-controller ./cmd/controller && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ironlb-speaker ./cmd/speaker

FROM gcr.io/distroless/static-debian12:nonroot AS controller
COPY --from=build /out/ironlb-controller /ironlb-controller
USER 65532:65532
ENTRYPOINT ["/ironlb-controller"]

FROM gcr.io/distroless/static-debian12:nonroot AS speaker
COPY --from=build /out/ironlb-speaker /ironlb-speaker
USER 65532:65532
ENTRYPOINT ["/ironlb-speaker"]
