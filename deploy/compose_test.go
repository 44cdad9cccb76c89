package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"daemonauth/internal/config"
)

// moduleRoot is the repository root, relative to this package's folder,
// where `go test` runs the tests.
const moduleRoot = ".."

// composeFile is the part of docker-compose.yml that the checks read.
type composeFile struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string       `yaml:"image"`
	Build       any          `yaml:"build"`
	Restart     string       `yaml:"restart"`
	Command     any          `yaml:"command"`
	Environment any          `yaml:"environment"`
	DependsOn   any          `yaml:"depends_on"`
	Ports       []any        `yaml:"ports"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
}

type healthcheck struct {
	Test    any  `yaml:"test"`
	Disable bool `yaml:"disable"`
}

func readRootFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var compose composeFile
	if err := yaml.Unmarshal(readRootFile(t, "docker-compose.yml"), &compose); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	return compose
}

// envVar is one entry of a service's environment. FromShell marks an entry
// without a value, which Compose takes from the shell or the .env file, or
// leaves unset.
type envVar struct {
	Value     string
	FromShell bool
}

// environment returns a service's environment, given in either of the two
// forms Compose accepts: a mapping or a list of NAME=value strings.
func environment(t *testing.T, s service) map[string]envVar {
	t.Helper()
	vars := map[string]envVar{}
	switch env := s.Environment.(type) {
	case nil:
	case map[string]any:
		for name, value := range env {
			if value == nil {
				vars[name] = envVar{FromShell: true}
				continue
			}
			vars[name] = envVar{Value: fmt.Sprint(value)}
		}
	case []any:
		for _, entry := range env {
			text, ok := entry.(string)
			if !ok {
				t.Fatalf("environment entry %v is a %T, want a NAME=value string", entry, entry)
			}
			name, value, found := strings.Cut(text, "=")
			vars[name] = envVar{Value: value, FromShell: !found}
		}
	default:
		t.Fatalf("environment is a %T, want a mapping or a list", env)
	}
	return vars
}

var variableReference = regexp.MustCompile(`\$(\$|\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

var variableWithDefault = regexp.MustCompile(`^\{([A-Za-z_][A-Za-z0-9_]*):?-([^$]*)\}$`)

// interpolate returns text as `docker compose` reads it when no variable is
// set: ${NAME:-default} and ${NAME-default} become the default, and $$
// becomes $. Any other reference is an error, because without an .env file
// it would become an empty string.
func interpolate(text string) (string, error) {
	var errs []error
	result := variableReference.ReplaceAllStringFunc(text, func(reference string) string {
		if reference == "$$" {
			return "$"
		}
		match := variableWithDefault.FindStringSubmatch(strings.TrimPrefix(reference, "$"))
		if match == nil {
			errs = append(errs, fmt.Errorf("%s has no default: write ${NAME:-default}", reference))
			return ""
		}
		return match[2]
	})
	return result, errors.Join(errs...)
}

func mustInterpolate(t *testing.T, text string) string {
	t.Helper()
	result, err := interpolate(text)
	if err != nil {
		t.Fatalf("interpolate %q: %v", text, err)
	}
	return result
}

// workerEnvNames returns every environment variable that the worker's
// configuration reads.
func workerEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, key := range config.Keys() {
		for _, name := range config.EnvNames(key) {
			names[name] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("config.Keys returned no keys")
	}
	return names
}

func TestInterpolate(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"${PASSWORD:-secret}":  "secret",
		"${PASSWORD-secret}":   "secret",
		"a:${PORT:-5432}:b":    "a:5432:b",
		"$$(hostname -i):7233": "$(hostname -i):7233",
		"no references":        "no references",
	}
	for text, want := range valid {
		got, err := interpolate(text)
		if err != nil {
			t.Errorf("interpolate(%q) returned error %v", text, err)
		}
		if got != want {
			t.Errorf("interpolate(%q) = %q, want %q", text, got, want)
		}
	}

	for _, text := range []string{"${PASSWORD}", "$PASSWORD", "${PASSWORD:?required}"} {
		if _, err := interpolate(text); err == nil || !strings.Contains(err.Error(), "has no default") {
			t.Errorf("interpolate(%q) returned error %v, want one saying it has no default", text, err)
		}
	}
}

func TestComposeServicesExist(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)

	for _, name := range []string{"postgresql", "temporal-postgresql", "temporal", "temporal-ui", "worker"} {
		if _, ok := compose.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
}

func TestComposeVariablesHaveDefaults(t *testing.T) {
	t.Parallel()
	var document any
	if err := yaml.Unmarshal(readRootFile(t, "docker-compose.yml"), &document); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}

	var walk func(where string, node any)
	walk = func(where string, node any) {
		switch value := node.(type) {
		case string:
			if _, err := interpolate(value); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		case map[string]any:
			for key, child := range value {
				walk(where+"."+key, child)
			}
		case []any:
			for i, child := range value {
				walk(fmt.Sprintf("%s[%d]", where, i), child)
			}
		}
	}
	walk("docker-compose.yml", document)
}

func TestComposeHealthchecks(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)

	for name, s := range compose.Services {
		// The worker has no endpoint to probe, and no service waits for it.
		if name == "worker" {
			continue
		}
		if s.Healthcheck == nil || s.Healthcheck.Disable {
			t.Errorf("service %s has no healthcheck", name)
			continue
		}

		switch test := s.Healthcheck.Test.(type) {
		case string:
			if strings.TrimSpace(test) == "" {
				t.Errorf("service %s: healthcheck test is empty", name)
			}
		case []any:
			if len(test) < 2 || (test[0] != "CMD" && test[0] != "CMD-SHELL") {
				t.Errorf("service %s: healthcheck test %v does not start with CMD or CMD-SHELL and a command", name, test)
			}
		default:
			t.Errorf("service %s: healthcheck test is a %T, want a string or a list", name, test)
		}
	}
}

func TestComposeHealthyDependenciesHaveHealthchecks(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)

	for name, s := range compose.Services {
		dependencies, ok := s.DependsOn.(map[string]any)
		if !ok {
			continue
		}
		for dependency, options := range dependencies {
			target, exists := compose.Services[dependency]
			if !exists {
				t.Errorf("service %s depends on %s, which is not a service", name, dependency)
				continue
			}
			settings, _ := options.(map[string]any)
			condition, _ := settings["condition"].(string)
			if condition == "service_healthy" && target.Healthcheck == nil {
				t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck", name, dependency, dependency)
			}
		}
	}
}

func TestComposeWorkerWaitsForHealthy(t *testing.T) {
	t.Parallel()
	worker := loadCompose(t).Services["worker"]

	dependencies, ok := worker.DependsOn.(map[string]any)
	if !ok {
		t.Fatalf("worker depends_on is a %T, want a mapping of service to condition", worker.DependsOn)
	}
	for _, dependency := range []string{"postgresql", "temporal"} {
		options, _ := dependencies[dependency].(map[string]any)
		if condition := options["condition"]; condition != "service_healthy" {
			t.Errorf("worker depends_on %s has condition %v, want service_healthy", dependency, condition)
		}
	}
}

func TestComposePortsOnLoopback(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)

	for name, s := range compose.Services {
		for _, port := range s.Ports {
			switch published := port.(type) {
			case string:
				if !strings.HasPrefix(published, "127.0.0.1:") {
					t.Errorf("service %s publishes %q, want it to start with 127.0.0.1:", name, published)
				}
			case map[string]any:
				if published["host_ip"] != "127.0.0.1" {
					t.Errorf("service %s publishes %v with host_ip %v, want 127.0.0.1", name, published, published["host_ip"])
				}
			default:
				t.Errorf("service %s publishes %v on every interface, want 127.0.0.1:HOST:CONTAINER", name, port)
			}
		}
	}
}

func TestComposeWorkerEnvironmentKnown(t *testing.T) {
	t.Parallel()
	worker := loadCompose(t).Services["worker"]
	known := workerEnvNames(t)

	for name := range environment(t, worker) {
		if !known[name] {
			t.Errorf("worker sets %s, which the worker's configuration does not read", name)
		}
	}
}

func TestComposeWorkerConfigurationLoads(t *testing.T) {
	worker := loadCompose(t).Services["worker"]

	// Unset what the test process may have set, so only the file counts.
	// Viper treats an empty variable as unset.
	for name := range workerEnvNames(t) {
		t.Setenv(name, "")
	}
	for name, variable := range environment(t, worker) {
		if !variable.FromShell {
			t.Setenv(name, mustInterpolate(t, variable.Value))
		}
	}

	flags := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	config.AddFlags(flags)
	cfg, err := config.Load(flags)
	if err != nil {
		t.Fatalf("config.Load with the worker's environment: %v", err)
	}
	if cfg.Log.Format != "json" {
		t.Errorf("worker log format is %q, want json", cfg.Log.Format)
	}
}

func TestComposeWorkerRunsMigrations(t *testing.T) {
	t.Parallel()
	worker := loadCompose(t).Services["worker"]

	var arguments []string
	switch command := worker.Command.(type) {
	case string:
		arguments = strings.Fields(command)
	case []any:
		for _, argument := range command {
			arguments = append(arguments, fmt.Sprint(argument))
		}
	}
	if !slices.Contains(arguments, "--migrate") {
		t.Errorf("worker command is %v, want it to contain --migrate", worker.Command)
	}
	// Without the search attributes the worker refuses to start.
	if !slices.Contains(arguments, "--register-search-attributes") {
		t.Errorf("worker command is %v, want it to contain --register-search-attributes", worker.Command)
	}
	if worker.Build == nil {
		t.Error("worker has no build, want it built from the repository's Dockerfile")
	}
	if worker.Restart != "unless-stopped" {
		t.Errorf("worker restart is %q, want unless-stopped", worker.Restart)
	}
}

func TestComposeDatabaseURLMatchesPostgres(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)
	database := environment(t, compose.Services["postgresql"])
	worker := environment(t, compose.Services["worker"])

	raw, ok := worker[config.EnvName("database.url")]
	if !ok || raw.FromShell {
		t.Fatalf("worker does not set %s", config.EnvName("database.url"))
	}
	databaseURL, err := url.Parse(mustInterpolate(t, raw.Value))
	if err != nil {
		t.Fatalf("parse the worker's database URL: %v", config.RedactError(err))
	}

	if host := databaseURL.Hostname(); host != "postgresql" {
		t.Errorf("database URL host is %q, want the postgresql service", host)
	}
	if port := databaseURL.Port(); port != "5432" {
		t.Errorf("database URL port is %q, want 5432", port)
	}
	if user, want := databaseURL.User.Username(), mustInterpolate(t, database["POSTGRES_USER"].Value); user != want {
		t.Errorf("database URL user is %q, want POSTGRES_USER %q", user, want)
	}
	if password, _ := databaseURL.User.Password(); password != mustInterpolate(t, database["POSTGRES_PASSWORD"].Value) {
		t.Error("database URL password differs from the postgresql service's POSTGRES_PASSWORD")
	}
	if name, want := strings.TrimPrefix(databaseURL.Path, "/"), mustInterpolate(t, database["POSTGRES_DB"].Value); name != want {
		t.Errorf("database URL names database %q, want POSTGRES_DB %q", name, want)
	}
}

func TestComposeWorkerReachesTemporal(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)
	worker := environment(t, compose.Services["worker"])
	temporal := environment(t, compose.Services["temporal"])

	address := mustInterpolate(t, worker["TEMPORAL_ADDRESS"].Value)
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		t.Fatalf("worker TEMPORAL_ADDRESS %q: %v", address, err)
	}
	if host != "temporal" || port != "7233" {
		t.Errorf("worker TEMPORAL_ADDRESS is %q, want temporal:7233", address)
	}

	// auto-setup registers only DEFAULT_NAMESPACE, so the worker must use that one.
	namespace := worker["TEMPORAL_NAMESPACE"].Value
	if registered := temporal["DEFAULT_NAMESPACE"].Value; registered != namespace {
		t.Errorf("temporal registers namespace %q, but the worker uses %q", registered, namespace)
	}
	if check := fmt.Sprint(compose.Services["temporal"].Healthcheck.Test); !strings.Contains(check, namespace) {
		t.Errorf("temporal healthcheck %s does not check the worker's namespace %s", check, namespace)
	}
}

// dockerfileInstructions returns the Dockerfile's instructions with
// continuation lines joined and comment lines dropped, as Docker reads them.
func dockerfileInstructions(t *testing.T) []string {
	t.Helper()
	var instructions []string
	var current strings.Builder
	for line := range strings.Lines(string(readRootFile(t, "Dockerfile"))) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if continued, ok := strings.CutSuffix(line, `\`); ok {
			current.WriteString(continued + " ")
			continue
		}
		current.WriteString(line)
		if instruction := strings.TrimSpace(current.String()); instruction != "" {
			instructions = append(instructions, instruction)
		}
		current.Reset()
	}
	return instructions
}

// dockerfileBuildPackages returns the package paths (./worker) that the
// Dockerfile's RUN instructions pass to `go build`. It splits commands on
// && and ; and arguments on spaces, so it finds no package inside a quoted
// argument.
func dockerfileBuildPackages(t *testing.T) []string {
	t.Helper()
	var packages []string
	for _, instruction := range dockerfileInstructions(t) {
		command, ok := strings.CutPrefix(instruction, "RUN ")
		if !ok {
			continue
		}
		for _, part := range strings.FieldsFunc(command, func(r rune) bool { return r == '&' || r == ';' }) {
			fields := strings.Fields(part)
			start := slices.Index(fields, "build")
			if start < 1 || fields[start-1] != "go" {
				continue
			}
			for _, field := range fields[start+1:] {
				if field == "." || strings.HasPrefix(field, "./") {
					packages = append(packages, field)
				}
			}
		}
	}
	if len(packages) == 0 {
		t.Fatal("the Dockerfile runs no `go build` of a ./ package")
	}
	return packages
}

func TestDockerfileTargetsBuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("links every Dockerfile target; skipped with -short")
	}
	packages := dockerfileBuildPackages(t)
	if !slices.Contains(packages, "./worker") {
		t.Errorf("the Dockerfile builds %v, want ./worker among them", packages)
	}

	output := t.TempDir()
	for _, pkg := range packages {
		t.Run(strings.TrimPrefix(pkg, "./"), func(t *testing.T) {
			t.Parallel()
			// CGO_ENABLED=0 as in the Dockerfile, so a package that needs cgo fails here too.
			build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(output, path.Base(pkg)), pkg)
			build.Dir = moduleRoot
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if message, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", pkg, err, message)
			}
		})
	}
}

var makeBuildCommand = regexp.MustCompile(`(^|\s)(go|\$\(GO\)|\$\{GO\})\s+build\s`)

func TestDockerfileTargetsInMakefile(t *testing.T) {
	t.Parallel()
	makefile, err := os.ReadFile(filepath.Join(moduleRoot, "Makefile"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no Makefile at the repository root")
	}
	if err != nil {
		t.Fatalf("read Makefile: %v", err)
	}

	var buildArguments []string
	for line := range strings.Lines(string(makefile)) {
		if makeBuildCommand.MatchString(line) {
			buildArguments = append(buildArguments, strings.Fields(line)...)
		}
	}
	if len(buildArguments) == 0 {
		t.Fatal("the Makefile has no `go build` line")
	}
	for _, pkg := range dockerfileBuildPackages(t) {
		name := strings.TrimPrefix(pkg, "./")
		accepted := []string{pkg, pkg + "/", "daemonauth/" + name, "./..."}
		if !slices.ContainsFunc(buildArguments, func(argument string) bool { return slices.Contains(accepted, argument) }) {
			t.Errorf("the Dockerfile builds %s, but no `go build` line of the Makefile does", pkg)
		}
	}
}

func TestDockerfileGoVersion(t *testing.T) {
	t.Parallel()
	var goDirective string
	for line := range strings.Lines(string(readRootFile(t, "go.mod"))) {
		if version, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			goDirective = version
		}
	}
	if goDirective == "" {
		t.Fatal("go.mod has no go directive")
	}

	var builderTag string
	for _, instruction := range dockerfileInstructions(t) {
		fields := strings.Fields(instruction)
		if len(fields) >= 2 && fields[0] == "FROM" && strings.HasPrefix(fields[1], "golang:") {
			builderTag = strings.TrimPrefix(fields[1], "golang:")
		}
	}
	if builderTag == "" {
		t.Fatal("the Dockerfile has no golang builder stage")
	}

	// Only the language version (1.26) is compared, because golang:1.26 is
	// the newest 1.26.x release. A suffix such as -alpine picks the distribution.
	builderVersion, _, _ := strings.Cut(builderTag, "-")
	if goDirective != builderVersion && !strings.HasPrefix(goDirective, builderVersion+".") {
		t.Errorf("the builder is golang:%s, but go.mod requires go %s", builderTag, goDirective)
	}
}

func TestDockerfileEntrypointIsWorker(t *testing.T) {
	t.Parallel()
	built := map[string]bool{}
	for _, pkg := range dockerfileBuildPackages(t) {
		built[path.Base(pkg)] = true
	}

	var entrypoint []string
	for _, instruction := range dockerfileInstructions(t) {
		if arguments, ok := strings.CutPrefix(instruction, "ENTRYPOINT "); ok {
			if err := json.Unmarshal([]byte(arguments), &entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s is not in JSON form: %v", arguments, err)
			}
		}
	}
	if len(entrypoint) == 0 {
		t.Fatal("the Dockerfile has no ENTRYPOINT")
	}
	if name := path.Base(entrypoint[0]); name != "worker" || !built[name] {
		t.Errorf("ENTRYPOINT runs %s, want the worker that the Dockerfile builds", entrypoint[0])
	}
}

// ignorePattern is one line of .dockerignore.
type ignorePattern struct {
	text    string
	negated bool
	regexp  *regexp.Regexp
}

// parseDockerignore reads .dockerignore with Docker's rules for the forms it
// supports: a leading ! re-includes, * and ? match within one path element,
// ** matches any number of elements, and a pattern that matches a folder
// excludes everything in it. Character classes ([abc]) fail the test, because
// this reader does not implement them.
func parseDockerignore(t *testing.T) []ignorePattern {
	t.Helper()
	var patterns []ignorePattern
	for line := range strings.Lines(string(readRootFile(t, ".dockerignore"))) {
		text := strings.TrimSpace(line)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}

		pattern := ignorePattern{text: text}
		if rest, ok := strings.CutPrefix(text, "!"); ok {
			pattern.negated = true
			text = rest
		}
		text = path.Clean(strings.TrimPrefix(text, "/"))

		var expression strings.Builder
		expression.WriteString("^")
		for i := 0; i < len(text); i++ {
			switch {
			case strings.HasPrefix(text[i:], "**/"):
				expression.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(text[i:], "**"):
				expression.WriteString(".*")
				i++
			case text[i] == '*':
				expression.WriteString("[^/]*")
			case text[i] == '?':
				expression.WriteString("[^/]")
			case text[i] == '[' || text[i] == '\\':
				t.Fatalf(".dockerignore pattern %q uses %q, which this check does not implement", pattern.text, text[i])
			default:
				expression.WriteString(regexp.QuoteMeta(text[i : i+1]))
			}
		}
		expression.WriteString("$")
		pattern.regexp = regexp.MustCompile(expression.String())
		patterns = append(patterns, pattern)
	}
	return patterns
}

// excludedBy returns the pattern that leaves file out of the build context,
// or "" when the file is in it. The last matching pattern decides.
func excludedBy(patterns []ignorePattern, file string) string {
	decision := ""
	for _, pattern := range patterns {
		for candidate := file; candidate != "."; candidate = path.Dir(candidate) {
			if pattern.regexp.MatchString(candidate) {
				decision = pattern.text
				if pattern.negated {
					decision = ""
				}
				break
			}
		}
	}
	return decision
}

// buildInputs returns the module's files, relative to the module root, that
// `go build` of packages reads: go.mod, go.sum, and the Go and embedded
// files of every package of this module that they import.
func buildInputs(t *testing.T, packages []string) []string {
	t.Helper()
	list := exec.CommandContext(t.Context(), "go", append([]string{"list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module"}, packages...)...)
	list.Dir = moduleRoot
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	list.Stderr = &stderr
	output, err := list.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", packages, err, stderr.Bytes())
	}
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}

	files := []string{"go.mod", "go.sum"}
	decoder := json.NewDecoder(bytes.NewReader(output))
	for {
		var pkg struct {
			Dir        string
			GoFiles    []string
			EmbedFiles []string
			Module     *struct{ Main bool }
		}
		if err := decoder.Decode(&pkg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if pkg.Module == nil || !pkg.Module.Main {
			continue
		}
		for _, name := range slices.Concat(pkg.GoFiles, pkg.EmbedFiles) {
			relative, err := filepath.Rel(root, filepath.Join(pkg.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, filepath.ToSlash(relative))
		}
	}
	slices.Sort(files)
	return files
}

func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	t.Parallel()
	patterns := parseDockerignore(t)

	for _, file := range buildInputs(t, dockerfileBuildPackages(t)) {
		if pattern := excludedBy(patterns, file); pattern != "" {
			t.Errorf(".dockerignore pattern %q leaves %s, which `go build` reads, out of the build context", pattern, file)
		}
	}
}

func TestDockerignorePatterns(t *testing.T) {
	t.Parallel()
	patterns := parseDockerignore(t)

	excluded := []string{"bin/temporal", ".git/HEAD", "deploy/deploy.test", "cover.out"}
	for _, file := range excluded {
		if excludedBy(patterns, file) == "" {
			t.Errorf("%s is in the build context, want it left out", file)
		}
	}
	kept := []string{"worker/main.go", "migrations/00001_upstream_tables.sql", "go.sum"}
	for _, file := range kept {
		if pattern := excludedBy(patterns, file); pattern != "" {
			t.Errorf("pattern %q leaves %s out of the build context, want it kept", pattern, file)
		}
	}
}
