package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Manifest format versions. Version 1 (release 0.1.0) is one gzip member
// and no index; version 2 adds the index (Manifest.Index) and the trailer.
const (
	// FormatVersion is the manifest format this package writes.
	FormatVersion = 2
	// formatNoIndex is the first format: read, never written.
	formatNoIndex = 1
)

// ErrNoIndex is returned by OpenIndexed for an archive without the index
// trailer: one written by release 0.1.0, or recompressed by another tool.
// Such an archive is read sequentially (Walk, VerifyStream).
var ErrNoIndex = errors.New("archive has no index")

// memberBytes is how much of a file's content one gzip member holds at most:
// big enough that restarting the compressor costs nothing measurable, small
// enough that a reader can inflate a large table's members in parallel.
const memberBytes = 8 << 20

// blockSize is the tar block size: entries are padded to it.
const blockSize = 512

// padding is the number of zero bytes that follow n bytes of content.
func padding(n int64) int64 { return (blockSize - n%blockSize) % blockSize }

// The trailer is the archive's last gzip member, of fixed size, so a reader
// finds it at size-trailerSize. Its content is the tar end-of-archive
// marker (two zero blocks), which gunzip and tar read as usual; its gzip
// header carries, in an FEXTRA subfield, where the manifest's member is.
// FHCRC guards the header. Every byte but the subfield's payload (and the
// header CRC that covers it) is constant.
const (
	trailerSI1, trailerSI2 = 'H', 'i' // subfield id: Hubble index
	trailerVersion         = 1
	trailerPayload         = 1 + 4*8 // version, then four little-endian uint64
	trailerXLen            = 4 + trailerPayload
	trailerHeader          = 10 + 2 + trailerXLen + 2 // fixed header, XLEN, subfield, CRC16
	endBlocks              = 2 * blockSize
)

// zeroBlocksDeflate is the deflate encoding of endBlocks zero bytes, fixed
// once so the trailer's size never depends on a compressor's version.
var zeroBlocksDeflate = []byte{0x62, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x8c, 0x58, 0x00, 0x08, 0x00, 0x00, 0xff, 0xff}

// trailerSize is the size of the trailer member in bytes.
var trailerSize = int64(trailerHeader + len(zeroBlocksDeflate) + 8)

// trailer locates the manifest's gzip member. That member holds the
// padding of the last indexed entry (pad bytes), the manifest.json tar
// header, its content and its padding: stream bytes once inflated.
type trailer struct {
	offset, compressed, stream, pad int64
}

const (
	flagHCRC  = 1 << 1
	flagExtra = 1 << 2
)

func (t trailer) marshal() []byte {
	b := make([]byte, 0, trailerSize)
	b = append(b, 0x1f, 0x8b, 8, flagHCRC|flagExtra, 0, 0, 0, 0, 0, 255)
	b = binary.LittleEndian.AppendUint16(b, trailerXLen)
	b = append(b, trailerSI1, trailerSI2)
	b = binary.LittleEndian.AppendUint16(b, trailerPayload)
	b = append(b, trailerVersion)
	for _, v := range []int64{t.offset, t.compressed, t.stream, t.pad} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(crc32.ChecksumIEEE(b)))
	b = append(b, zeroBlocksDeflate...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(make([]byte, endBlocks)))
	return binary.LittleEndian.AppendUint32(b, endBlocks)
}

// parseTrailer reads the last trailerSize bytes of an archive. It returns
// ErrNoIndex when they are not a trailer at all, and a damage problem when
// they carry the subfield but are otherwise wrong.
func parseTrailer(b []byte) (trailer, error) {
	var t trailer
	want := trailer{}.marshal()
	if len(b) != len(want) || !bytes.Equal(b[:4], want[:4]) || !bytes.Equal(b[10:16], want[10:16]) {
		return t, ErrNoIndex
	}
	bad := func(what string) (trailer, error) {
		return trailer{}, problemf(damaged, "gzip: index trailer: %s", what)
	}
	if b[16] != trailerVersion {
		return bad("unknown version (written by a newer release?)")
	}
	hdr := b[:trailerHeader-2]
	if binary.LittleEndian.Uint16(b[trailerHeader-2:]) != uint16(crc32.ChecksumIEEE(hdr)) {
		return bad("header checksum mismatch")
	}
	if !bytes.Equal(b[trailerHeader:], want[trailerHeader:]) || !bytes.Equal(b[4:10], want[4:10]) {
		return bad("not the end-of-archive member")
	}
	v := make([]int64, 4)
	for i := range v {
		u := binary.LittleEndian.Uint64(b[17+8*i:])
		if u > 1<<62 {
			return bad("offset out of range")
		}
		v[i] = int64(u)
	}
	t = trailer{offset: v[0], compressed: v[1], stream: v[2], pad: v[3]}
	if t.pad >= blockSize {
		return bad("padding out of range")
	}
	return t, nil
}
