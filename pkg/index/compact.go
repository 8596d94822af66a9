package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"
)

// The compact form of a cached index: what Parse made of the YAML, written
// once beside it so that later commands neither re-read nor re-parse the
// YAML. A lookup by name reads the directory (names and offsets) and one
// record; a listing reads the records in one go. The layout, little-endian:
//
//	header, 64 bytes:
//	  0  magic "FERRYIDX"
//	  8  version (uint32), compactVersion
//	 12  entry count (uint32)
//	 16  size of the YAML it was built from (uint64)
//	 24  modification time of that YAML, Unix nanoseconds (int64)
//	 32  directory length (uint64)
//	 40  records length (uint64)
//	 48  CRC-32C of the directory (uint32)
//	 52  CRC-32C of header bytes 0-52 (uint32)
//	 56  CRC-32C of the records (uint32)
//	 60  zero
//	directory: count slots of 24 bytes (name offset and length in the name
//	  blob, uint32 each; record offset, uint64; record length and CRC-32C,
//	  uint32 each), sorted by name, then the name blob
//	records: one per entry, in slot order (see appendEntry)
//
// A compact file whose version, YAML size or time differ, or that fails a
// check, is stale: the YAML is parsed again and the file rewritten.
const (
	compactMagic   = "FERRYIDX"
	compactVersion = 1
	headerLen      = 64
	slotLen        = 24
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is what a compact file that fails a check gives; the caller
// falls back to the YAML.
var errCorrupt = errors.New("corrupt compact index")

// CompactPath is where the compact form of the index cached at yamlPath is
// kept: beside it, with the extension .idx instead of .yaml.
func CompactPath(yamlPath string) string {
	return strings.TrimSuffix(yamlPath, ".yaml") + ".idx"
}

// WriteCompact writes the compact form of idx to w, stamped with the size
// and modification time of the YAML file it was parsed from. Of several
// entries with one name, the first is kept, as a Set does.
func WriteCompact(w io.Writer, idx *Index, yaml os.FileInfo) error {
	entries := idx.Entries
	if idx.store != nil {
		entries = nil
		if err := idx.store.each(func(e Entry) bool { entries = append(entries, e); return true }); err != nil {
			return err
		}
	}
	order := make([]int, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		if !seen[e.Name] {
			seen[e.Name] = true
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(entries[a].Name, entries[b].Name) })

	var names, records []byte
	dir := make([]byte, 0, len(order)*slotLen)
	for _, i := range order {
		e := &entries[i]
		start := len(records)
		records = appendEntry(records, e)
		rec := records[start:]
		dir = binary.LittleEndian.AppendUint32(dir, uint32(len(names)))
		dir = binary.LittleEndian.AppendUint32(dir, uint32(len(e.Name)))
		dir = binary.LittleEndian.AppendUint64(dir, uint64(start))
		dir = binary.LittleEndian.AppendUint32(dir, uint32(len(rec)))
		dir = binary.LittleEndian.AppendUint32(dir, crc32.Checksum(rec, castagnoli))
		names = append(names, e.Name...)
	}
	dir = append(dir, names...)
	h := make([]byte, headerLen)
	copy(h, compactMagic)
	binary.LittleEndian.PutUint32(h[8:], compactVersion)
	binary.LittleEndian.PutUint32(h[12:], uint32(len(order)))
	binary.LittleEndian.PutUint64(h[16:], uint64(yaml.Size()))
	binary.LittleEndian.PutUint64(h[24:], uint64(yaml.ModTime().UnixNano()))
	binary.LittleEndian.PutUint64(h[32:], uint64(len(dir)))
	binary.LittleEndian.PutUint64(h[40:], uint64(len(records)))
	binary.LittleEndian.PutUint32(h[48:], crc32.Checksum(dir, castagnoli))
	binary.LittleEndian.PutUint32(h[52:], crc32.Checksum(h[:52], castagnoli))
	binary.LittleEndian.PutUint32(h[56:], crc32.Checksum(records, castagnoli))
	for _, b := range [][]byte{h, dir, records} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// compact is an index read through its compact file. It keeps the
// directory in memory and reads records on demand.
type compact struct {
	// f stays open (and is closed when the compact is garbage, as every
	// *os.File is), so a rewrite of the file by another process, always a
	// rename, never changes what this one reads.
	f        *os.File
	yamlPath string
	count    int
	dir      []byte // count slots
	names    string // name blob
	recStart int64  // file offset of the records
	recLen   int64
	recCRC   uint32
}

// openCompact opens the compact file at path if it was built from a YAML
// file of yaml's size and modification time by this version of ferry.
func openCompact(path, yamlPath string, yaml os.FileInfo) (c *compact, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := make([]byte, headerLen)
	if _, err := io.ReadFull(f, h); err != nil {
		return nil, errCorrupt
	}
	switch {
	case string(h[:8]) != compactMagic || binary.LittleEndian.Uint32(h[52:]) != crc32.Checksum(h[:52], castagnoli):
		return nil, errCorrupt
	case binary.LittleEndian.Uint32(h[8:]) != compactVersion,
		binary.LittleEndian.Uint64(h[16:]) != uint64(yaml.Size()),
		int64(binary.LittleEndian.Uint64(h[24:])) != yaml.ModTime().UnixNano():
		return nil, errStale
	}
	count := int64(binary.LittleEndian.Uint32(h[12:]))
	dirLen, recLen := binary.LittleEndian.Uint64(h[32:]), binary.LittleEndian.Uint64(h[40:])
	if dirLen > uint64(fi.Size()) || recLen > uint64(fi.Size()) || headerLen+dirLen+recLen != uint64(fi.Size()) ||
		uint64(count)*slotLen > dirLen {
		return nil, errCorrupt
	}
	dir := make([]byte, dirLen)
	if _, err := io.ReadFull(f, dir); err != nil || crc32.Checksum(dir, castagnoli) != binary.LittleEndian.Uint32(h[48:]) {
		return nil, errCorrupt
	}
	c = &compact{
		f: f, yamlPath: yamlPath, count: int(count), dir: dir[:count*slotLen], names: string(dir[count*slotLen:]),
		recStart: headerLen + int64(dirLen), recLen: int64(recLen), recCRC: binary.LittleEndian.Uint32(h[56:]),
	}
	// Names strictly ascending (so binary search finds each, once), every
	// slot within the file.
	prev := ""
	for i := range c.count {
		no, nl, ro, rl := c.slot(i)
		if no+nl > uint64(len(c.names)) || ro+rl > recLen {
			return nil, errCorrupt
		}
		name := c.names[no : no+nl]
		if i > 0 && name <= prev {
			return nil, errCorrupt
		}
		prev = name
	}
	return c, nil
}

// errStale is a compact file built from another YAML or by another version.
var errStale = errors.New("stale compact index")

func (c *compact) slot(i int) (nameOff, nameLen, recOff, recLen uint64) {
	s := c.dir[i*slotLen:]
	return uint64(binary.LittleEndian.Uint32(s)), uint64(binary.LittleEndian.Uint32(s[4:])),
		binary.LittleEndian.Uint64(s[8:]), uint64(binary.LittleEndian.Uint32(s[16:]))
}

func (c *compact) crc(i int) uint32 { return binary.LittleEndian.Uint32(c.dir[i*slotLen+20:]) }

func (c *compact) name(i int) string {
	no, nl, _, _ := c.slot(i)
	return c.names[no : no+nl]
}

// search returns the first slot whose name is >= name.
func (c *compact) search(name string) int {
	lo, hi := 0, c.count
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.name(m) < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// record reads and decodes the entry of slot i.
func (c *compact) record(i int) (Entry, error) {
	_, _, ro, rl := c.slot(i)
	buf := make([]byte, rl)
	if _, err := c.f.ReadAt(buf, c.recStart+int64(ro)); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	if crc32.Checksum(buf, castagnoli) != c.crc(i) {
		return Entry{}, errCorrupt
	}
	return c.decode(i, string(buf))
}

func (c *compact) decode(i int, rec string) (Entry, error) {
	d := decoder{s: rec}
	e := d.entry()
	if d.bad || d.i != len(d.s) || e.Name != c.name(i) {
		return Entry{}, errCorrupt
	}
	return e, nil
}

func (c *compact) lookup(name string) (Entry, bool, error) {
	i := c.search(name)
	if i == c.count || c.name(i) != name {
		return Entry{}, false, nil
	}
	e, err := c.record(i)
	return e, err == nil, err
}

// prefix calls fn for each entry whose name starts with p, in name order,
// until fn returns false.
func (c *compact) prefix(p string, fn func(Entry) bool) error {
	i := c.search(p)
	if i == c.count || !strings.HasPrefix(c.name(i), p) {
		return nil
	}
	if p == "" {
		return c.each(fn)
	}
	for ; i < c.count && strings.HasPrefix(c.name(i), p); i++ {
		e, err := c.record(i)
		if err != nil {
			return err
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// each calls fn for every entry, in name order, until fn returns false. It
// reads the records in one go; the entries' strings share that one buffer.
func (c *compact) each(fn func(Entry) bool) error {
	recs, err := c.records()
	if err != nil {
		return err
	}
	for i := range c.count {
		e, err := c.at(recs, i)
		if err != nil {
			return err
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// records reads every record straight into the string the entries will
// share (one allocation of the records' size), checking the CRC on the
// way.
func (c *compact) records() (string, error) {
	var b strings.Builder
	b.Grow(int(c.recLen))
	h := crc32.New(castagnoli)
	if _, err := io.Copy(&b, io.TeeReader(io.NewSectionReader(c.f, c.recStart, c.recLen), h)); err != nil {
		return "", fmt.Errorf("%w: %w", errCorrupt, err)
	}
	recs := b.String()
	if int64(len(recs)) != c.recLen || h.Sum32() != c.recCRC {
		return "", errCorrupt
	}
	return recs, nil
}

// at decodes the entry of slot i from recs, what records returned.
func (c *compact) at(recs string, i int) (Entry, error) {
	_, _, ro, rl := c.slot(i)
	return c.decode(i, recs[ro:ro+rl])
}

func (c *compact) allNames() []string {
	out := make([]string, c.count)
	for i := range out {
		out[i] = c.name(i)
	}
	return out
}

// A record is the entry's fields in a fixed order: strings as a uvarint
// length and the bytes; lists as a uvarint count and the items; the
// signature as a byte (0 none, 1 without cosign, 2 with cosign and its
// fields, ignore-tlog as a byte).
func appendEntry(b []byte, e *Entry) []byte {
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	strs := func(l []string) {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	for _, s := range []string{e.Name, e.Type, e.Registry, e.Repository, e.Description, e.Home, e.License, e.Source, e.SourcePrefix} {
		str(s)
	}
	strs(e.Keywords)
	b = binary.AppendUvarint(b, uint64(len(e.Maintainers)))
	for _, m := range e.Maintainers {
		str(m.Name)
		str(m.Email)
	}
	strs(e.Sources)
	switch {
	case e.Signature == nil:
		b = append(b, 0)
	case e.Signature.Cosign == nil:
		b = append(b, 1)
	default:
		c := e.Signature.Cosign
		b = append(b, 2)
		for _, s := range []string{c.CertificateOIDCIssuer, c.CertificateOIDCIssuerRegexp, c.CertificateIdentity,
			c.CertificateIdentityRegexp, c.CertificateGithubWorkflow, c.Key} {
			str(s)
		}
		if c.IgnoreTlog {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(e.Mirrors)))
	for _, m := range e.Mirrors {
		str(m.Registry)
		str(m.Repository)
		str(m.URL)
		files := make([]string, 0, len(m.Digests))
		for f := range m.Digests {
			files = append(files, f)
		}
		slices.Sort(files)
		b = binary.AppendUvarint(b, uint64(len(files)))
		for _, f := range files {
			str(f)
			str(m.Digests[f])
		}
	}
	return b
}

// decoder reads a record; any problem sets bad, and what it returns then
// is not used.
type decoder struct {
	s   string
	i   int
	bad bool
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			break
		}
		c := d.s[d.i]
		d.i++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
	d.bad = true
	return 0
}

// count reads a list length; each item takes at least one byte, so a
// length beyond what is left is corrupt (and never allocated).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	s := d.s[d.i : d.i+n]
	d.i += n
	return s
}

func (d *decoder) byte() byte {
	if d.i >= len(d.s) {
		d.bad = true
		return 0
	}
	d.i++
	return d.s[d.i-1]
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) entry() Entry {
	var e Entry
	for _, p := range []*string{&e.Name, &e.Type, &e.Registry, &e.Repository, &e.Description, &e.Home, &e.License, &e.Source, &e.SourcePrefix} {
		*p = d.str()
	}
	e.Keywords = d.strs()
	if n := d.count(); n > 0 {
		e.Maintainers = make([]Maintainer, n)
		for i := range e.Maintainers {
			e.Maintainers[i] = Maintainer{Name: d.str(), Email: d.str()}
		}
	}
	e.Sources = d.strs()
	switch d.byte() {
	case 0:
	case 1:
		e.Signature = &Signature{}
	case 2:
		c := &Cosign{}
		for _, p := range []*string{&c.CertificateOIDCIssuer, &c.CertificateOIDCIssuerRegexp, &c.CertificateIdentity,
			&c.CertificateIdentityRegexp, &c.CertificateGithubWorkflow, &c.Key} {
			*p = d.str()
		}
		switch d.byte() {
		case 0:
		case 1:
			c.IgnoreTlog = true
		default:
			d.bad = true
		}
		e.Signature = &Signature{Cosign: c}
	default:
		d.bad = true
	}
	if n := d.count(); n > 0 {
		e.Mirrors = make([]Mirror, n)
		for i := range e.Mirrors {
			m := Mirror{Registry: d.str(), Repository: d.str(), URL: d.str()}
			if k := d.count(); k > 0 {
				m.Digests = make(map[string]string, k)
				for range k {
					f := d.str()
					m.Digests[f] = d.str()
				}
			}
			e.Mirrors[i] = m
		}
	}
	return e
}
