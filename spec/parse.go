package spec

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"

	"github.com/lightkeeper/lightkeeper/schema"
	"go.yaml.in/yaml/v3"
)

// worker is what one goroutine of Load uses again from file to file: the
// text read (nothing loaded points into it) and the reader of plain files.
type worker struct {
	buf   bytes.Buffer
	plain schema.PlainReader
}

// fileResult is what one file yields.
type fileResult struct {
	fleets []*Fleet
	errs   Errors
	more   int // problems found beyond Options.MaxFileErrors, counted only
	others int // of more, documents that are not fleets
}

// parseFile reads, parses and checks every document of one file. It never
// panics: a panic of the YAML parser is reported as an error of the file.
// w holds what one goroutine reuses from file to file.
func parseFile(ref fileRef, opts Options, w *worker) (res fileResult) {
	fail := func(line, col int, format string, args ...any) {
		res.errs = append(res.errs, &Error{File: ref.display, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	data, tooLarge, err := readLimited(ref, opts.MaxFileSize, &w.buf)
	if err != nil {
		fail(0, 0, "%v", err)
		return res
	}
	if tooLarge {
		fail(1, 1, "file is larger than %d bytes; split it into smaller files", opts.MaxFileSize)
		return res
	}
	sum := maphash.Bytes(sourceSeed, data)
	data, problem := schema.Prepare(data)
	if problem != nil {
		fail(problem.Line, problem.Column, "%s", problem.Message)
		return res
	}

	defer func() {
		if r := recover(); r != nil {
			res.fleets = nil
			fail(1, 1, "YAML parser failed: %v", r)
		}
	}()
	sch, err := schema.Fleet()
	if err != nil {
		fail(1, 1, "%v", err)
		return res
	}
	if fleets, ok := parsePlain(sch, ref.display, data, opts, &w.plain); ok {
		res.fleets = fleets
	} else {
		parseNodes(&res, sch, ref.display, data, opts)
	}
	if len(res.fleets) > 0 {
		// Keep neither the node trees nor the text (see Fleet.root).
		file := &sourceFile{fsys: ref.fsys, name: ref.name, sum: sum}
		for _, f := range res.fleets {
			f.node, f.file = nil, file
		}
	}
	return res
}

// parsePlain is the fast path of a file that every fleet file written by
// hand or by a generator takes: when the text is plain YAML (see
// schema.ReadPlain) and every document in it is a valid fleet, it returns
// the fleets, built without a YAML node tree. ok is false when anything is
// amiss; parseNodes then reads the file again and words every problem, so
// what is reported never depends on this path.
func parsePlain(sch *schema.Schema, display string, data []byte, opts Options, plain *schema.PlainReader) (fleets []*Fleet, ok bool) {
	// The documents' maps are plain's again at its next Read: fillFleet
	// copies out what a Fleet keeps.
	docs, ok := plain.Read(data)
	if !ok {
		return nil, false
	}
	fleets = make([]*Fleet, 0, len(docs))
	for _, d := range docs {
		if !sch.Valid(d.Value) {
			return nil, false
		}
		f := &Fleet{Source: Source{File: display, Document: d.Index, Line: d.Line}}
		fillFleet(f, d.Value)
		f.applyDefaults()
		// Without a node tree checkFleet cannot see the tags' keys where
		// they are written; tagsClean checks them from the map.
		if !tagsClean(f.Spec.Tags) || len(checkFleet(f, opts)) > 0 {
			return nil, false
		}
		fleets = append(fleets, f)
	}
	return fleets, true
}

// parseNodes reads every document of a file's text through the YAML
// parser's node tree, which places every problem, into res (which keeps
// what was found if the parser panics).
func parseNodes(res *fileResult, sch *schema.Schema, display string, data []byte, opts Options) {
	fail := func(line, col int, format string, args ...any) {
		res.errs = append(res.errs, &Error{File: display, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for index := 1; ; index++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if opts.MaxFileErrors > 0 && len(res.errs) >= opts.MaxFileErrors {
				res.more++
				return
			}
			v := schema.SyntaxError(data, err)
			fail(v.Line, v.Column, "%s", v.Message)
			return
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // an empty document between "---" markers
		}
		docs++
		// Once the file has shown MaxFileErrors problems, the rest are
		// only counted: not worded, not kept.
		keep := 0
		if opts.MaxFileErrors > 0 {
			keep = max(opts.MaxFileErrors-len(res.errs), -1)
			if keep == 0 {
				keep = -1
			}
		}
		f, errs, more := parseDocument(sch, display, index, doc.Content[0], opts, keep)
		res.errs = append(res.errs, errs...)
		res.more += more
		if keep < 0 && f == nil && more == 1 && notFleet(doc.Content[0]) != "" {
			res.others++
		}
		if f != nil {
			res.fleets = append(res.fleets, f)
		}
	}
	if docs == 0 {
		fail(1, 1, "file has no YAML documents; add a fleet or delete the file")
	}
}

// readLimited reads a file into buf unless it is larger than limit bytes.
func readLimited(ref fileRef, limit int64, buf *bytes.Buffer) (data []byte, tooLarge bool, err error) {
	f, err := ref.fsys.Open(ref.name)
	if err != nil {
		return nil, false, errors.New(describeFSError(err))
	}
	defer f.Close()
	buf.Reset()
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		// Only a symbolic link gets here: the walk skips directories.
		return nil, false, errors.New("is a directory (a symbolic link named like a fleet file); rename the link or point it at a file")
	}
	if err == nil && st.Mode().IsRegular() {
		if st.Size() > limit {
			return nil, true, nil
		}
		buf.Grow(int(st.Size()) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(f, limit+1))
	data = buf.Bytes()
	if err != nil {
		return nil, false, errors.New(describeFSError(err))
	}
	return data, int64(len(data)) > limit, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// parseDocument converts, validates and checks one document. It returns
// the fleet when the document is valid on its own. It keeps at most keep
// problems (0: all; negative: none) and returns how many more it found.
func parseDocument(sch *schema.Schema, file string, index int, root *yaml.Node, opts Options, keep int) (*Fleet, Errors, int) {
	if what := notFleet(root); what != "" {
		if keep < 0 {
			return nil, nil, 1
		}
		return nil, Errors{notFleetError(file, root, what)}, 0
	}
	name := ""
	if n, _ := schema.Lookup(root, []string{"metadata", "name"}); n != nil && n != root && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		name = n.Value
	}
	res, err := sch.Check(root, schema.Options{MaxAliasNodes: opts.MaxAliasNodes, MaxViolations: keep})
	if err != nil {
		return nil, Errors{{File: file, Line: root.Line, Column: root.Column, Fleet: name, Message: err.Error()}}, 0
	}
	var errs Errors
	for _, v := range res.Violations {
		errs = append(errs, &Error{File: file, Line: v.Line, Column: v.Column, Fleet: name, Field: v.Field(), Message: v.Message})
	}
	if len(errs) > 0 || res.More > 0 {
		return nil, errs, res.More
	}
	f := &Fleet{Source: Source{File: file, Document: index, Line: root.Line}, node: root}
	fillFleet(f, obj(res.Value))
	f.applyDefaults()
	if errs := checkFleet(f, opts); len(errs) > 0 {
		if n := max(keep, 0); keep != 0 && len(errs) > n {
			return nil, errs[:n], len(errs) - n
		}
		return nil, errs, 0
	}
	return f, nil, 0
}
