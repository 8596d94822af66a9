package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The layout of an image: its files with type, mode and owner, its users and
// groups, and its run configuration. Two layouts are computed and compared:
// the Dockerfile's, from its instructions (RUN commands interpreted, COPY
// followed, on a model of the part of Alpine the image relies on), and the
// offline build's (offline.go), assembled from this machine's files.

type entry struct {
	Path   string      // absolute, clean
	Type   byte        // 'd' directory, 'f' file, 'l' symlink
	Mode   fs.FileMode // permission bits with setuid/setgid/sticky (not for links)
	UID    int
	GID    int
	Target string // symlink target
	Source string // file content: a host path (not compared)
}

func (e entry) String() string {
	switch e.Type {
	case 'l':
		return fmt.Sprintf("%s l %d:%d -> %s", e.Path, e.UID, e.GID, e.Target)
	default:
		return fmt.Sprintf("%s %c %04o %d:%d", e.Path, e.Type, modeBits(e.Mode), e.UID, e.GID)
	}
}

// modeBits is the tar/chmod number of a mode: permissions plus the
// setuid (04000), setgid (02000) and sticky (01000) bits.
func modeBits(m fs.FileMode) int64 {
	n := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return n
}

func parseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("bad mode %q", s)
	}
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

type account struct {
	Name string
	ID   int
	GID  int    // users only
	Home string // users only
}

// config is the image's run configuration.
type config struct {
	Env        []string // KEY=VALUE, in order, later keys replacing earlier ones
	User       string
	Entrypoint []string
	Cmd        []string
	Labels     map[string]string
}

func (c *config) setEnv(kv string) {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range c.Env {
		if strings.HasPrefix(e, k+"=") {
			c.Env[i] = kv
			return
		}
	}
	c.Env = append(c.Env, kv)
}

type layout struct {
	files  map[string]entry
	users  []account
	groups []account
	config config
}

func newLayout() *layout {
	l := &layout{files: map[string]entry{}, config: config{Labels: map[string]string{}}}
	l.files["/"] = entry{Path: "/", Type: 'd', Mode: 0o755}
	return l
}

func (l *layout) clone() *layout {
	c := newLayout()
	for k, v := range l.files {
		c.files[k] = v
	}
	c.users = append(c.users, l.users...)
	c.groups = append(c.groups, l.groups...)
	c.config.Env = append(c.config.Env, l.config.Env...)
	c.config.User = l.config.User
	c.config.Entrypoint = append(c.config.Entrypoint, l.config.Entrypoint...)
	c.config.Cmd = append(c.config.Cmd, l.config.Cmd...)
	for k, v := range l.config.Labels {
		c.config.Labels[k] = v
	}
	return c
}

// mkdirAll adds p and its missing parents as directories owned by root.
func (l *layout) mkdirAll(p string, mode fs.FileMode) {
	p = path.Clean(p)
	if _, ok := l.files[p]; ok || p == "/" {
		return
	}
	l.mkdirAll(path.Dir(p), 0o755)
	l.files[p] = entry{Path: p, Type: 'd', Mode: mode}
}

// add puts e in the layout, creating its parent directories.
func (l *layout) add(e entry) {
	e.Path = path.Clean(e.Path)
	l.mkdirAll(path.Dir(e.Path), 0o755)
	l.files[e.Path] = e
}

func (l *layout) sorted() []entry {
	out := make([]entry, 0, len(l.files))
	for _, e := range l.files {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (l *layout) user(name string) (account, bool) {
	for _, u := range l.users {
		if u.Name == name {
			return u, true
		}
	}
	return account{}, false
}

func (l *layout) group(name string) (account, bool) {
	for _, g := range l.groups {
		if g.Name == name {
			return g, true
		}
	}
	return account{}, false
}

// passwd and group are the contents of /etc/passwd and /etc/group.
func (l *layout) passwd() string {
	var b strings.Builder
	for _, u := range l.users {
		shell := "/sbin/nologin"
		if u.ID == 0 {
			shell = "/bin/sh"
		}
		fmt.Fprintf(&b, "%s:x:%d:%d:%s:%s:%s\n", u.Name, u.ID, u.GID, u.Name, u.Home, shell)
	}
	return b.String()
}

func (l *layout) groupFile() string {
	var b strings.Builder
	for _, g := range l.groups {
		fmt.Fprintf(&b, "%s:x:%d:\n", g.Name, g.ID)
	}
	return b.String()
}

// diff lists how b differs from a, one line per difference.
func diff(a, b *layout) []string {
	var out []string
	for _, e := range a.sorted() {
		f, ok := b.files[e.Path]
		switch {
		case !ok:
			out = append(out, "only in the Dockerfile: "+e.String())
		case e.String() != f.String():
			out = append(out, fmt.Sprintf("differs: Dockerfile %s, offline %s", e, f))
		}
	}
	for _, f := range b.sorted() {
		if _, ok := a.files[f.Path]; !ok {
			out = append(out, "only offline: "+f.String())
		}
	}
	if a.passwd() != b.passwd() {
		out = append(out, fmt.Sprintf("/etc/passwd: Dockerfile %q, offline %q", a.passwd(), b.passwd()))
	}
	if a.groupFile() != b.groupFile() {
		out = append(out, fmt.Sprintf("/etc/group: Dockerfile %q, offline %q", a.groupFile(), b.groupFile()))
	}
	if x, y := fmt.Sprint(a.config.Env), fmt.Sprint(b.config.Env); x != y {
		out = append(out, fmt.Sprintf("ENV: Dockerfile %s, offline %s", x, y))
	}
	if a.config.User != b.config.User {
		out = append(out, fmt.Sprintf("USER: Dockerfile %q, offline %q", a.config.User, b.config.User))
	}
	if x, y := fmt.Sprintf("%q", a.config.Entrypoint), fmt.Sprintf("%q", b.config.Entrypoint); x != y {
		out = append(out, fmt.Sprintf("ENTRYPOINT: Dockerfile %s, offline %s", x, y))
	}
	if x, y := fmt.Sprintf("%q", a.config.Cmd), fmt.Sprintf("%q", b.config.Cmd); x != y {
		out = append(out, fmt.Sprintf("CMD: Dockerfile %s, offline %s", x, y))
	}
	if x, y := fmt.Sprint(a.config.Labels), fmt.Sprint(b.config.Labels); x != y {
		out = append(out, fmt.Sprintf("LABEL: Dockerfile %s, offline %s", x, y))
	}
	return out
}

// alpineBase models the part of alpine:3.22 the image relies on: busybox as
// /bin/sh, a world-writable /tmp, root, the directories the instructions
// write into, and the PATH its image configuration sets. The rest of Alpine
// (apk, musl, the other busybox applets) is not modelled, and the offline
// image does not have it.
func alpineBase() *layout {
	l := newLayout()
	for _, d := range []string{"/bin", "/etc", "/home", "/usr/bin", "/usr/share", "/var/lib"} {
		l.mkdirAll(d, 0o755)
	}
	l.mkdirAll("/root", 0o700)
	l.mkdirAll("/tmp", 0o777|fs.ModeSticky)
	l.add(entry{Path: "/bin/busybox", Type: 'f', Mode: 0o755})
	l.add(entry{Path: "/bin/sh", Type: 'l', Target: "/bin/busybox"})
	l.add(entry{Path: "/etc/passwd", Type: 'f', Mode: 0o644})
	l.add(entry{Path: "/etc/group", Type: 'f', Mode: 0o644})
	l.users = []account{{Name: "root", ID: 0, GID: 0, Home: "/root"}}
	l.groups = []account{{Name: "root", ID: 0}}
	l.config.Env = []string{"PATH=" + defaultPath}
	return l
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// apkFiles are the files an `apk add` of each package the Dockerfile may
// install brings that the image relies on.
var apkFiles = map[string][]entry{
	"ca-certificates": {{Path: "/etc/ssl/certs/ca-certificates.crt", Type: 'f', Mode: 0o644}},
}

// dockerfileLayouts interprets the stages of a Dockerfile that build on
// alpine:3.22 (and the stages built on those), by stage name; the last
// stage is also under "". Stages on other bases (the build stage) are not
// modelled; COPY --from them takes the file's mode from --chmod, or 0755
// for the build stage's /out/ binaries.
func dockerfileLayouts(ins []instruction, context string) (map[string]*layout, error) {
	stages := map[string]*layout{}
	var (
		cur     *layout
		curName string
		errs    []string
	)
	fail := func(in instruction, format string, a ...any) {
		errs = append(errs, fmt.Sprintf("line %d: %s %s", in.line, in.cmd, fmt.Sprintf(format, a...)))
	}
	finish := func() {
		if cur != nil {
			stages[curName] = cur
			stages[""] = cur
		}
	}
	for _, in := range ins {
		if in.cmd == "FROM" {
			finish()
			words := fromWords(in.args)
			image, name := words[0], ""
			if len(words) >= 3 && strings.EqualFold(words[1], "AS") {
				name = words[2]
			}
			curName = name
			switch {
			case image == "alpine:3.22":
				cur = alpineBase()
			case stages[image] != nil && image != "":
				cur = stages[image].clone()
			default:
				cur = nil // not modelled
			}
			continue
		}
		if cur == nil {
			continue
		}
		switch in.cmd {
		case "RUN":
			if err := cur.run(in.args); err != nil {
				fail(in, "%v", err)
			}
		case "COPY":
			flags, srcs, dst, err := copyArgs(in.args)
			if err != nil {
				fail(in, "%v", err)
				continue
			}
			for _, s := range srcs {
				e := entry{Path: copyDest(dst, s), Type: 'f', Mode: 0o644, Source: s}
				if from := flags["from"]; from != "" {
					if !strings.HasPrefix(s, "/out/") {
						fail(in, "copies %s from stage %s: only its /out/ binaries are modelled", s, from)
						continue
					}
					e.Mode = 0o755
				} else if fi, err := os.Stat(filepath.Join(context, s)); err == nil {
					e.Mode = fi.Mode().Perm()
				}
				if m, ok := flags["chmod"]; ok {
					if e.Mode, err = parseMode(m); err != nil {
						fail(in, "%v", err)
					}
				}
				if o, ok := flags["chown"]; ok {
					if e.UID, e.GID, err = cur.owner(o); err != nil {
						fail(in, "%v", err)
					}
				}
				cur.add(e)
			}
		case "ENV":
			for _, kv := range envPairs(in.args) {
				cur.config.setEnv(kv)
			}
		case "LABEL":
			for _, kv := range labelPairs(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				cur.config.Labels[k] = v
			}
		case "USER":
			cur.config.User = in.args
		case "ENTRYPOINT":
			cur.config.Entrypoint = execForm(in.args)
			cur.config.Cmd = nil // as docker does when ENTRYPOINT is set
		case "CMD":
			cur.config.Cmd = execForm(in.args)
		case "WORKDIR", "ARG", "ADD", "VOLUME", "EXPOSE", "SHELL", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK":
			fail(in, "is not modelled by imagecheck's layout (teach scripts/imagecheck/layout.go)")
		}
	}
	finish()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if stages[""] == nil {
		return nil, fmt.Errorf("no stage builds on alpine:3.22")
	}
	return stages, nil
}

func fromWords(args string) []string {
	var words []string
	for _, w := range strings.Fields(args) {
		if !strings.HasPrefix(w, "--") {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		words = []string{""}
	}
	return words
}

func execForm(args string) []string {
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err == nil {
		return out
	}
	return []string{"/bin/sh", "-c", args}
}

// envPairs reads ENV KEY=VALUE ... (and the legacy ENV KEY VALUE).
func envPairs(args string) []string {
	if first := strings.Fields(args); len(first) > 0 && !strings.Contains(first[0], "=") {
		k, v, _ := strings.Cut(args, " ")
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	return labelPairs(args)
}

// labelPairs splits KEY=VALUE pairs, with double-quoted values.
func labelPairs(args string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(args); i++ {
		c := args[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted && i+1 < len(args):
			i++
			cur.WriteByte(args[i])
		case (c == ' ' || c == '\t') && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// run interprets a RUN command: commands joined by &&, each one of the few
// the Dockerfile uses. Anything else is an error, so the model cannot drift
// silently from the Dockerfile.
func (l *layout) run(script string) error {
	for _, part := range strings.Split(script, "&&") {
		words := strings.Fields(part)
		if len(words) == 0 {
			return fmt.Errorf("empty command in %q", script)
		}
		if strings.ContainsAny(part, `'"$;|<>*?`+"`") {
			return fmt.Errorf("%q: quoting, variables, globs and redirections are not modelled", strings.TrimSpace(part))
		}
		var err error
		switch words[0] {
		case "apk":
			err = l.apk(words[1:])
		case "addgroup":
			err = l.addgroup(words[1:])
		case "adduser":
			err = l.adduser(words[1:])
		case "mkdir":
			err = l.mkdir(words[1:])
		case "chown":
			err = l.chown(words[1:])
		case "ln":
			err = l.ln(words[1:])
		default:
			err = fmt.Errorf("%s is not modelled (teach scripts/imagecheck/layout.go)", words[0])
		}
		if err != nil {
			return fmt.Errorf("%s: %w", strings.TrimSpace(part), err)
		}
	}
	return nil
}

// options splits words into single-letter options (with a value when the
// letter is in withValue) and operands.
func options(words []string, withValue string) (map[string]string, []string, error) {
	opts := map[string]string{}
	var rest []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || w == "-" {
			rest = append(rest, w)
			continue
		}
		if strings.HasPrefix(w, "--") {
			opts[w] = ""
			continue
		}
		for j := 1; j < len(w); j++ {
			c := string(w[j])
			if !strings.Contains(withValue, c) {
				opts[c] = ""
				continue
			}
			if j+1 < len(w) {
				opts[c] = w[j+1:]
			} else if i+1 < len(words) {
				i++
				opts[c] = words[i]
			} else {
				return nil, nil, fmt.Errorf("-%s needs a value", c)
			}
			break
		}
	}
	return opts, rest, nil
}

func (l *layout) apk(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("only apk add is modelled")
	}
	_, pkgs, err := options(args[1:], "")
	if err != nil {
		return err
	}
	for _, p := range pkgs {
		files, ok := apkFiles[p]
		if !ok {
			return fmt.Errorf("package %s is not modelled (add it to apkFiles)", p)
		}
		for _, f := range files {
			l.add(f)
		}
	}
	return nil
}

func (l *layout) addgroup(args []string) error {
	opts, rest, err := options(args, "g")
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("want one group name")
	}
	gid, err := strconv.Atoi(opts["g"])
	if err != nil {
		return fmt.Errorf("only addgroup -g GID is modelled")
	}
	if _, ok := l.group(rest[0]); ok {
		return fmt.Errorf("group %s exists", rest[0])
	}
	l.groups = append(l.groups, account{Name: rest[0], ID: gid})
	return nil
}

// adduser is busybox's: -S system, -D no password, -u UID, -G GROUP, -h HOME;
// the home directory is created (0755) and owned by the user.
func (l *layout) adduser(args []string) error {
	opts, rest, err := options(args, "uGhsg")
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("want one user name")
	}
	uid, err := strconv.Atoi(opts["u"])
	if err != nil {
		return fmt.Errorf("only adduser -u UID is modelled")
	}
	g, ok := l.group(opts["G"])
	if !ok {
		return fmt.Errorf("group %q does not exist", opts["G"])
	}
	home := opts["h"]
	if home == "" {
		home = "/home/" + rest[0]
	}
	if _, ok := l.user(rest[0]); ok {
		return fmt.Errorf("user %s exists", rest[0])
	}
	l.users = append(l.users, account{Name: rest[0], ID: uid, GID: g.ID, Home: home})
	l.add(entry{Path: home, Type: 'd', Mode: 0o755, UID: uid, GID: g.ID})
	return nil
}

func (l *layout) mkdir(args []string) error {
	opts, dirs, err := options(args, "m")
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o755)
	if m, ok := opts["m"]; ok {
		if mode, err = parseMode(m); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		if _, ok := opts["p"]; !ok {
			if _, ok := l.files[path.Dir(path.Clean(d))]; !ok {
				return fmt.Errorf("%s: parent does not exist (no -p)", d)
			}
		}
		l.mkdirAll(d, mode)
		e := l.files[path.Clean(d)]
		e.Mode = mode
		l.files[e.Path] = e
	}
	return nil
}

// owner resolves USER[:GROUP] by number or name.
func (l *layout) owner(s string) (int, int, error) {
	u, g, hasGroup := strings.Cut(s, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		acc, ok := l.user(u)
		if !ok {
			return 0, 0, fmt.Errorf("unknown user %s", u)
		}
		uid = acc.ID
	}
	gid := uid
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			acc, ok := l.group(g)
			if !ok {
				return 0, 0, fmt.Errorf("unknown group %s", g)
			}
			gid = acc.ID
		}
	}
	return uid, gid, nil
}

func (l *layout) chown(args []string) error {
	opts, rest, err := options(args, "")
	if err != nil {
		return err
	}
	if len(rest) < 2 {
		return fmt.Errorf("want an owner and paths")
	}
	uid, gid, err := l.owner(rest[0])
	if err != nil {
		return err
	}
	_, recursive := opts["R"]
	for _, p := range rest[1:] {
		p = path.Clean(p)
		if _, ok := l.files[p]; !ok {
			return fmt.Errorf("%s does not exist", p)
		}
		for k, e := range l.files {
			if k == p || (recursive && strings.HasPrefix(k, p+"/")) {
				e.UID, e.GID = uid, gid
				l.files[k] = e
			}
		}
	}
	return nil
}

func (l *layout) ln(args []string) error {
	opts, rest, err := options(args, "")
	if err != nil {
		return err
	}
	if _, ok := opts["s"]; !ok || len(rest) != 2 {
		return fmt.Errorf("only ln -s TARGET LINK is modelled")
	}
	link := path.Clean(rest[1])
	if _, ok := l.files[link]; ok {
		return fmt.Errorf("%s exists", link)
	}
	l.add(entry{Path: link, Type: 'l', Target: rest[0]})
	return nil
}

// executable fails unless argv[0] resolves, through symlinks, to an
// executable file of the layout.
func (l *layout) executable(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("no entrypoint")
	}
	p := argv[0]
	for hops := 0; hops < 8; hops++ {
		e, ok := l.files[path.Clean(p)]
		switch {
		case !ok:
			return fmt.Errorf("entrypoint %s: %s does not exist", argv[0], p)
		case e.Type == 'l':
			if strings.HasPrefix(e.Target, "/") {
				p = e.Target
			} else {
				p = path.Join(path.Dir(e.Path), e.Target)
			}
			continue
		case e.Type != 'f' || e.Mode&0o111 == 0:
			return fmt.Errorf("entrypoint %s: %s is not an executable file", argv[0], p)
		}
		return nil
	}
	return fmt.Errorf("entrypoint %s: too many symlinks", argv[0])
}
