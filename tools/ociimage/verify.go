package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

type verifyOptions struct {
	image, arch, binary string
}

// unpack extracts the oci-archive file into dir, refusing any entry that
// is not a plain file or directory inside it.
func unpack(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%s: entry %q leaves the archive", file, h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: entry %q is neither a file nor a directory", file, h.Name)
		}
	}
}

// layerFile is what verify reads of each file of the image's layers.
type layerFile struct {
	header *tar.Header
	data   []byte // for the files verify looks into
}

// verify checks an oci-archive as the release ships it: one image for
// linux/ARCH whose digests add up, running as a numeric non-root user with
// /usr/bin/lightkeeper as entrypoint, and whose layers hold that binary
// (executable), the CA certificates, the user and its state directory. It
// prints what it checked.
func verify(o verifyOptions, w io.Writer) error {
	dir, err := os.MkdirTemp("", "ociimage-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := unpack(o.image, dir); err != nil {
		return err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("%s is not an OCI image layout: %w", o.image, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) != 1 {
		return fmt.Errorf("index.json lists %d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if p := desc.Platform; p == nil || p.OS != "linux" || p.Architecture != o.arch {
		return fmt.Errorf("index.json: platform %v, want linux/%s", p, o.arch)
	}
	tag := desc.Annotations["org.opencontainers.image.ref.name"]
	if tag == "" || desc.Annotations["io.containerd.image.name"] == "" {
		return fmt.Errorf("index.json: the manifest has no org.opencontainers.image.ref.name or io.containerd.image.name annotation")
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		return err
	}
	if err := validate.Image(img); err != nil {
		return fmt.Errorf("digests or sizes do not add up: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if cfg.OS != "linux" || cfg.Architecture != o.arch {
		return fmt.Errorf("config: platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, o.arch)
	}
	u, g, ok := strings.Cut(cfg.Config.User, ":")
	uidN, errU := strconv.Atoi(u)
	gidN, errG := strconv.Atoi(g)
	if !ok || errU != nil || errG != nil || uidN == 0 || gidN == 0 {
		return fmt.Errorf("config: User %q, want a numeric UID:GID, neither 0", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{binaryPath}) {
		return fmt.Errorf("config: Entrypoint %q, want [%s]", cfg.Config.Entrypoint, binaryPath)
	}

	files, err := layerFiles(img, binaryPath[1:], caFile[1:], "etc/passwd")
	if err != nil {
		return err
	}
	bin, ok := files[binaryPath[1:]]
	if !ok || bin.header.Typeflag != tar.TypeReg || bin.header.Mode&0o111 == 0 || bin.header.Uid != 0 {
		return fmt.Errorf("layers: no executable %s owned by root", binaryPath)
	}
	if o.binary != "" {
		want, err := os.ReadFile(o.binary)
		if err != nil {
			return err
		}
		if !bytes.Equal(bin.data, want) {
			return fmt.Errorf("layers: %s is not %s (sha256 %x, want %x)", binaryPath, o.binary, sha256.Sum256(bin.data), sha256.Sum256(want))
		}
	}
	ca, ok := files[caFile[1:]]
	pool := x509.NewCertPool()
	if !ok || !pool.AppendCertsFromPEM(ca.data) {
		return fmt.Errorf("layers: no CA certificates in %s", caFile)
	}
	passwd, ok := files["etc/passwd"]
	if !ok || !strings.Contains(string(passwd.data), ":x:"+u+":"+g+":") {
		return fmt.Errorf("layers: /etc/passwd has no entry for %s", cfg.Config.User)
	}
	state, ok := files[stateDir[1:]]
	if !ok || state.header.Typeflag != tar.TypeDir || strconv.Itoa(state.header.Uid) != u {
		return fmt.Errorf("layers: no directory %s owned by %s", stateDir, u)
	}

	st, err := os.Stat(o.image)
	if err != nil {
		return err
	}
	digest, _ := img.Digest()
	fmt.Fprintf(w, "%s: ok: %d bytes, linux/%s, tag %s, manifest %s\n", o.image, st.Size(), o.arch, tag, digest)
	summary, _ := json.MarshalIndent(struct {
		User       string
		Entrypoint []string
		Cmd        []string
		Env        []string
		WorkingDir string
		Labels     map[string]string
	}{cfg.Config.User, cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.Env, cfg.Config.WorkingDir, cfg.Config.Labels}, "", "  ")
	fmt.Fprintf(w, "config: %s\n", summary)
	layers, _ := img.Layers()
	for _, l := range layers {
		size, _ := l.Size()
		d, _ := l.Digest()
		fmt.Fprintf(w, "layer %s: %d bytes compressed\n", d, size)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := files[n].header
		fmt.Fprintf(w, "  %s %5d:%-5d %9d /%s\n", lsMode(h), h.Uid, h.Gid, h.Size, strings.TrimSuffix(n, "/"))
	}
	return nil
}

// lsMode is a file's mode as ls prints it.
func lsMode(h *tar.Header) string { return h.FileInfo().Mode().String() }

// layerFiles reads every layer's tar, the later layers' entries replacing
// the earlier ones', and keeps the content of the files named in read.
func layerFiles(img v1.Image, read ...string) (map[string]layerFile, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	files := map[string]layerFile{}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
			f := layerFile{header: h}
			if slices.Contains(read, name) {
				if f.data, err = io.ReadAll(tr); err != nil {
					rc.Close()
					return nil, err
				}
			}
			files[name] = f
		}
		rc.Close()
	}
	return files, nil
}
