package spec

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/distribution/reference"
)

// imageProblem explains why Docker would refuse an image reference, or "".
// It parses with github.com/distribution/reference, the grammar Docker
// itself uses: [registry[:port]/]name[:tag][@digest], the name lowercase.
func imageProblem(image string) string {
	const form = "write [registry/]name[:tag][@digest], such as nginx:1.27"
	_, err := reference.ParseNormalizedNamed(image)
	switch {
	case err == nil:
		return ""
	case strings.TrimSpace(image) == "":
		return fmt.Sprintf("%s is not an image reference; %s", visible(image), form)
	case strings.ContainsFunc(image, func(r rune) bool { return r == ' ' || r == '\t' }):
		return fmt.Sprintf("%s is not an image reference: it holds a space; %s", visible(image), form)
	case strings.HasSuffix(image, ":"):
		return fmt.Sprintf("%s has an empty tag; write a tag after ':' (%s1.27) or leave the ':' out (the tag is then latest)", visible(image), image)
	case errors.Is(err, reference.ErrNameContainsUppercase) || strings.Contains(err.Error(), "must be lowercase"):
		return fmt.Sprintf("%s: Docker wants the repository name in lowercase; write %q", visible(image), lowerName(image))
	case strings.Contains(image, "@") && digestOnlyWrong(image):
		return fmt.Sprintf("%s has a malformed digest; after '@' write the algorithm and its hex digits, such as sha256: and 64 hex digits, or leave the digest out", visible(image))
	case errors.Is(err, reference.ErrNameTooLong):
		return fmt.Sprintf("%s: the repository name is longer than %d characters", visible(image), reference.RepositoryNameTotalLengthMax)
	}
	return fmt.Sprintf("%s is not an image reference Docker accepts (%v); %s", visible(image), err, form)
}

// digestOnlyWrong reports whether the reference before its '@' is fine, so
// only the digest is at fault.
func digestOnlyWrong(image string) bool {
	name, _, _ := strings.Cut(image, "@")
	_, err := reference.ParseNormalizedNamed(name)
	return err == nil
}

// lowerName lowercases the repository part of an image reference, keeping
// the tag and digest as written.
func lowerName(image string) string {
	name, digest, hasDigest := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i:]
	}
	out := strings.ToLower(name) + tag
	if hasDigest {
		out += "@" + digest
	}
	return out
}

// maxRestartRetries is the largest N of restartPolicy on-failure:N: Docker
// parses it as a Go int, which on the 32-bit builds of the daemon is this.
const maxRestartRetries = math.MaxInt32

// restartPolicyProblem bounds the N of on-failure:N (the schema checks the
// form), or "".
func restartPolicyProblem(policy string) string {
	n, ok := strings.CutPrefix(policy, "on-failure:")
	if !ok {
		return ""
	}
	if v, err := strconv.ParseInt(n, 10, 64); err != nil || v > maxRestartRetries {
		return fmt.Sprintf("on-failure:%s retries more often than Docker can count; N must be at most %d", n, maxRestartRetries)
	}
	return ""
}

// cleanMountPath is a container path as Docker compares mount points:
// "/data/" and "/data" are one.
func cleanMountPath(p string) string { return path.Clean(p) }
