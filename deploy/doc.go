// Package deploy contains the checks of the deployment files at the repository
// root (docker-compose.yml, Dockerfile, .dockerignore) that run without a
// Docker engine: the stack's structure, the worker's environment against the
// configuration it reads, and a `go build` of every Dockerfile target.
package deploy
