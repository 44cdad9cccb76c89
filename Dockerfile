# Image of the daemon-auth worker. It also contains the starter, which runs
# with the worker's environment, so against the same namespace and database:
#
#   docker compose run --rm --entrypoint /usr/local/bin/starter worker status --daemon-id laptop-7
#
# The checks in deploy/compose_test.go build every `go build` target of this
# file and compare the builder's Go version with go.mod.

# The official golang images set GOTOOLCHAIN=local, so the build fails if a
# locally cached golang:1.26 is older than the go 1.26.8 that go.mod requires.
# `docker compose build --pull` fetches the newest 1.26.x.
FROM golang:1.26 AS builder

WORKDIR /src

# Download the modules in a layer of their own, so a change to the code
# alone does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

# CGO_ENABLED=0 links statically, because the runtime image has no C library.
# -trimpath drops the builder's paths from the binaries, -s -w the symbol
# table and DWARF data.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./worker ./starter

# distroless/static contains CA certificates and time zone data but no shell,
# and the :nonroot tag runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=builder /out/worker /out/starter /usr/local/bin/

USER nonroot:nonroot

ENTRYPOINT ["/usr/local/bin/worker"]
