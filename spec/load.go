package spec

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/lightkeeper/lightkeeper/schema"
)

// Defaults of Options.
const (
	DefaultMaxFileSize   = 1 << 20 // 1 MiB
	DefaultMaxTotalCount = 1000
	DefaultMaxAliasNodes = schema.DefaultMaxAliasNodes
	DefaultMaxErrors     = 100
	DefaultMaxFileErrors = 20
)

// Options bound what Load accepts. The zero value means the defaults.
type Options struct {
	// MaxFileSize is the largest file read, in bytes (default 1 MiB).
	MaxFileSize int64
	// MaxTotalCount caps the sum of count over every fleet in the
	// repository (default 1000), a guard against a typo buying a thousand
	// servers. A negative value means no cap.
	MaxTotalCount int
	// MaxAliasNodes caps the nodes a document may reach through YAML
	// aliases (default 10000), which stops alias bombs.
	MaxAliasNodes int
	// MaxErrors caps the problems Load returns (default 100) and
	// MaxFileErrors those of one file (default 20); a negative value means
	// no cap. Problems beyond a cap are counted but neither worded nor
	// kept, so that a broken repository costs no more to report than to
	// read: the Errors end with a summary that says how many more there
	// are (see Error.More).
	MaxErrors, MaxFileErrors int
	// Concurrency is how many files are parsed at once (default GOMAXPROCS).
	Concurrency int
	// ExtraRegions are region ids accepted besides KnownRegions: regions
	// opened after this build.
	ExtraRegions []string
	// Exclude lists globs of files and directories that a directory walk
	// leaves out, matched against the path relative to the directory walked
	// (Input.Path): path.Match syntax within a path element, and "**" as a
	// whole element for any number of elements ("ci/**", "**/testdata",
	// "**/*.compose.yaml"). An excluded directory is not entered. A file an
	// Input names itself is read whatever the patterns. See CheckExclude.
	Exclude []string
	// Parsed, when set, is called with each fleet as soon as its file is
	// parsed and checked on its own (or taken from Cache), before the
	// checks across files: to
	// start work that needs one fleet only, such as listing its region's
	// instances while the other files load. It is called from the parsing
	// goroutines, concurrently, and for fleets that the repository's checks
	// may still refuse; what it starts must be harmless if Load fails.
	Parsed func(*Fleet)
	// Cache, when set, keeps what each file of a load that succeeds
	// yields, by the file's Input.Key, for the next load through it: a file
	// with the same key is then neither read nor parsed. See Cache.
	Cache *Cache
}

// tell hands fleets to Parsed, when set.
func (o Options) tell(fleets []*Fleet) {
	if o.Parsed != nil {
		for _, f := range fleets {
			o.Parsed(f)
		}
	}
}

func (o Options) withDefaults() Options {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxTotalCount == 0 {
		o.MaxTotalCount = DefaultMaxTotalCount
	}
	if o.MaxAliasNodes <= 0 {
		o.MaxAliasNodes = DefaultMaxAliasNodes
	}
	if o.MaxErrors == 0 {
		o.MaxErrors = DefaultMaxErrors
	}
	if o.MaxFileErrors == 0 {
		o.MaxFileErrors = DefaultMaxFileErrors
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	return o
}

// Input is one place to load fleets from.
type Input struct {
	// FS holds the files. Keep it open while positions of the loaded
	// fleets are asked for: Fleet.Position reads the file again.
	FS fs.FS
	// Path is a directory of FS to walk or a file of FS to read; "" or "."
	// walks all of FS. A directory walk reads *.yaml and *.yml files and
	// skips files and directories whose name starts with '.'. A file named
	// explicitly is read whatever its extension.
	Path string
	// Display is the prefix put before paths of FS in errors and in
	// Fleet.Source, usually the directory FS was opened at ("fleets");
	// "" or "." shows paths of FS as they are.
	Display string
	// Root names the place FS was opened at, such as the absolute,
	// symlink-free directory, so that a file reached through two inputs
	// spelled differently ("fleets" and "/srv/repo/fleets") is read once.
	// "" means Display names it.
	Root string
	// Key, when set, names the content of a file of FS (its path in FS,
	// as Open takes it) without reading it, such as its git blob hash: two
	// files with the same key must hold the same bytes. "" means unknown:
	// the file is read and parsed. Only Options.Cache uses it.
	Key func(name string) string
}

// Load reads every fleet in fsys (see Input) and checks it. On success it
// returns the fleets sorted by name; otherwise it returns Errors, listing
// every problem found in every file.
func Load(fsys fs.FS, opts Options) ([]*Fleet, error) {
	return LoadInputs([]Input{{FS: fsys}}, opts)
}

// LoadInputs is Load over several inputs at once, so names are unique and
// counts add up across all of them.
func LoadInputs(inputs []Input, opts Options) ([]*Fleet, error) {
	opts = opts.withDefaults()
	for _, p := range opts.Exclude {
		if err := CheckExclude(p); err != nil {
			return nil, fmt.Errorf("spec: %w", err)
		}
	}
	var files []fileRef
	var errs Errors
	seen := map[string]bool{}
	walked := make([]bool, len(inputs))
	for i, in := range inputs {
		fr, dir, err := listFiles(in, opts.Exclude)
		walked[i] = dir
		for j := range fr {
			fr[j].input = i
			if in.Key != nil && opts.Cache != nil {
				fr[j].key = in.Key(fr[j].name)
			}
		}
		errs = append(errs, err...)
		if len(inputs) == 1 {
			// One walk reaches each file once.
			files = fr
			continue
		}
		for _, f := range fr {
			// A file reached twice (a directory and a file in it, or one
			// directory spelled two ways) is read once.
			if key := fileKey(in, f.name); !seen[key] {
				seen[key] = true
				files = append(files, f)
			}
		}
	}

	results := make([]fileResult, len(files))
	cached := opts.Cache.lookup(opts)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Concurrency, max(len(files), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w worker
			for i := range work {
				results[i] = parseFile(files[i], opts, &w)
				opts.tell(results[i].fleets)
			}
		}()
	}
	parsed := 0
	for i, f := range files {
		if e, ok := cached[f.key]; ok && f.key != "" {
			results[i] = e.reuse(f)
			opts.tell(results[i].fleets)
			continue
		}
		parsed++
		work <- i
	}
	close(work)
	wg.Wait()
	opts.Cache.count(parsed)

	var fleets []*Fleet
	for _, r := range results {
		fleets = append(fleets, r.fleets...)
	}
	fileErrs, more := collapseNotFleets(inputs, walked, files, results)
	errs = append(errs, fileErrs...)
	errs = append(errs, checkRepository(fleets, opts)...)
	if len(errs) > 0 || more > 0 {
		errs.sort()
		return nil, errs.limit(opts, more)
	}
	opts.Cache.store(opts, files, results)
	slices.SortFunc(fleets, func(a, b *Fleet) int { return cmp.Compare(a.Metadata.Name, b.Metadata.Name) })
	return fleets, nil
}

// fileRef is one file to parse.
type fileRef struct {
	fsys    fs.FS
	name    string // path in fsys
	display string // path shown to the user
	input   int    // index of the Input it was found through
	key     string // Input.Key of name, "" if none
}

// collapseNotFleets returns the errors of every file and the count of
// those not listed, except that a directory input in which every document
// is something other than a fleet (a Kubernetes manifest, a compose file)
// gets one line saying so instead of one per document. walked tells, per
// input, whether listFiles walked it as a directory.
func collapseNotFleets(inputs []Input, walked []bool, files []fileRef, results []fileResult) (errs Errors, more int) {
	type tally struct {
		docs, others int
		first        *Error
	}
	per := make([]tally, len(inputs))
	for i, r := range results {
		t := &per[files[i].input]
		// Each document that is not a fleet gives exactly one error; any
		// other error or a fleet stops the input from being collapsed.
		t.docs += len(r.fleets) + len(r.errs) + r.more
		t.others += r.others
		for _, e := range r.errs {
			if e.notFleet {
				t.others++
				if t.first == nil {
					t.first = e
				}
			}
		}
	}
	collapsed := make([]bool, len(inputs))
	for i, in := range inputs {
		t := per[i]
		if t.others == 0 || t.others != t.docs || !walked[i] {
			continue
		}
		collapsed[i] = true
		shown := displayPath(in.Display, cmp.Or(in.Path, "."))
		errs = append(errs, &Error{File: shown, Message: fmt.Sprintf(
			"no lightkeeper fleets here: %s, all something else (the first, %s:%d: %s); point lightkeeper at the directory that holds the fleet specs, or leave the others out with --exclude",
			plural(t.docs, "YAML document"), t.first.File, t.first.Line, t.first.what)})
	}
	for i, r := range results {
		if !collapsed[files[i].input] {
			errs = append(errs, r.errs...)
			more += r.more
		}
	}
	return errs, more
}

// plural renders "1 fleet" or "2 fleets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fileKey identifies name of in across inputs (see Input.Root).
func fileKey(in Input, name string) string {
	if in.Root == "" {
		return displayPath(in.Display, name)
	}
	return displayPath(in.Root, name)
}

func displayPath(prefix, name string) string {
	if prefix == "" || prefix == "." {
		return name
	}
	return path.Join(prefix, name)
}

// listFiles returns the fleet files of an input, in lexical order, leaving
// out what matches exclude; walked is true when the input is a directory,
// walked, rather than one file.
func listFiles(in Input, exclude []string) (files []fileRef, walked bool, errs Errors) {
	root := in.Path
	if root == "" {
		root = "."
	}
	shown := displayPath(in.Display, root)
	if in.FS == nil {
		return nil, false, Errors{{File: shown, Message: "no file system to read"}}
	}
	st, err := fs.Stat(in.FS, root)
	if err != nil {
		return nil, false, Errors{{File: shown, Message: describeFSError(err)}}
	}
	if !st.IsDir() {
		return []fileRef{{fsys: in.FS, name: root, display: shown}}, false, nil
	}
	err = fs.WalkDir(in.FS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &Error{File: displayPath(in.Display, p), Message: describeFSError(err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p != root && (strings.HasPrefix(d.Name(), ".") || Excluded(exclude, relativeTo(root, p))) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 && !isYAMLName(d.Name()) {
			// A link to a directory is not followed; one that leads out of
			// the tree is refused as a link to a file is, so that no fleet
			// goes unchecked in silence.
			if _, err := fs.Stat(in.FS, p); err != nil && isEscape(err) {
				errs = append(errs, &Error{File: displayPath(in.Display, p), Message: describeFSError(err)})
			}
			return nil
		}
		if d.IsDir() || !isYAMLName(d.Name()) {
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Find out what the link leads to without opening it: opening
			// a FIFO would block until something writes to it.
			if st, err := fs.Stat(in.FS, p); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
				errs = append(errs, &Error{File: displayPath(in.Display, p),
					Message: fmt.Sprintf("not a regular file (a symbolic link to %s); point the link at a file", fileKind(st.Mode()))})
				return nil
			}
		}
		files = append(files, fileRef{fsys: in.FS, name: p, display: displayPath(in.Display, p)})
		return nil
	})
	if err != nil {
		errs = append(errs, &Error{File: shown, Message: describeFSError(err)})
	}
	if len(files) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{File: shown, Message: "no fleet files (*.yaml, *.yml) in this directory; point lightkeeper at the directory that holds the fleet specs"})
	}
	return files, true, errs
}

func isYAMLName(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// describeFSError turns a file system error into a message; the path is
// already in the Error's File.
func describeFSError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case isEscape(err):
		// os.Root (and so os.Root.FS) refuses a symbolic link that leads
		// out of its directory; the error has no exported value.
		return "symbolic link leads outside the directory being read; keep fleet files inside it, or name the file itself"
	case errors.Is(err, syscall.ELOOP):
		return "too many levels of symbolic links (a link that leads back to itself?); point the link at a file"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %v", pe.Op, pe.Err)
	}
	return err.Error()
}

// isEscape reports whether err is os.Root refusing a symbolic link that
// leads out of its directory; the error has no exported value.
func isEscape(err error) bool {
	return strings.HasSuffix(err.Error(), "path escapes from parent")
}

// relativeTo returns p, a path below root in an fs.FS, relative to root.
func relativeTo(root, p string) string {
	if root == "." {
		return p
	}
	return strings.TrimPrefix(p, root+"/")
}

// fileKind names a file that is neither regular nor a directory.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	}
	return "a special file"
}
