package engineio

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	fws "github.com/fasthttp/websocket"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxControlPayload is the longest payload of a control frame.
const maxControlPayload = 125

// frameError is a client's frame the server refuses: the connection is
// closed with code and text in the close frame, as the WebSocket library
// of the goroutine read path closes it.
type frameError struct {
	code int
	text string
}

func (e *frameError) Error() string { return "websocket: " + e.text }

// errMessageTooBig refuses a message past MaxPayload, its fragments
// counted together as their headers arrive (close 1009, no text).
var errMessageTooBig = &frameError{code: fws.CloseMessageTooBig}

func frameProtocolError(text string) *frameError {
	return &frameError{code: fws.CloseProtocolError, text: text}
}

// frameKind is what frameParser.next found.
type frameKind uint8

const (
	// frameNone: the bytes given were used up before a frame completed.
	frameNone frameKind = iota
	// frameMessage: a whole data message (its fragments joined).
	frameMessage
	// framePing, framePong, frameClose: a control frame.
	framePing
	framePong
	frameClose
)

// frameEvent is a complete message or control frame; data is valid until
// the next call of next (it may alias the bytes given to next).
type frameEvent struct {
	kind   frameKind
	binary bool
	data   []byte
}

// frameParser decodes the frames a client sends, from whatever pieces the
// socket delivers them in, so that a frame cut anywhere, down to one byte
// per read, holds no goroutine and no more memory than the bytes that came:
// a frame header is kept in a fixed array, a control frame's payload in a
// buffer of its announced length (at most 125 bytes), and a message in
// pieces as its bytes come (msgBuf), never ahead of them. A frame that
// arrives whole in one read is handed over where it lies, unmasked in place.
type frameParser struct {
	cfg *frameConfig

	// hdr gathers the header of the next frame; hlen bytes are in.
	hdr  [14]byte
	hlen uint8

	// The frame whose payload is being read (inFrame).
	inFrame   bool
	fin       bool
	opcode    byte
	mask      [4]byte
	maskPos   uint8
	remaining int64

	// The data message being read (inMessage), size bytes announced so far.
	inMessage bool
	binary    bool
	size      int64
	// split holds what a message or control frame that came in several
	// pieces has gathered; nil otherwise, as on an idle connection.
	split *splitFrame
}

// frameConfig is what a server's parsers share.
type frameConfig struct {
	maxPayload int64
	buffers    *bufferPool
}

// splitFrame gathers a message, or a control frame's payload, that came
// in several pieces.
type splitFrame struct {
	msg  msgBuf
	ctrl []byte
}

// spill returns the split frame's state, made on first use.
func (p *frameParser) spill() *splitFrame {
	if p.split == nil {
		p.split = &splitFrame{}
	}
	return p.split
}

// partial reports whether a frame or message has begun and not finished.
func (p *frameParser) partial() bool {
	return p.hlen > 0 || p.inFrame || p.inMessage
}

// release gives back what an unfinished message holds.
func (p *frameParser) release() {
	if p.split != nil {
		p.split.msg.release(p.cfg.buffers)
		p.split = nil
	}
}

// next reads from b until one message or control frame is complete, and
// reports it with the number of bytes of b it used. A message that took
// several pieces is handed over in a buffer that done releases.
func (p *frameParser) next(b []byte) (frameEvent, int, error) {
	n := 0
	if !p.inFrame {
		k, err := p.readHeader(b)
		n += k
		if err != nil || !p.inFrame {
			return frameEvent{}, n, err
		}
	}
	take := min(int64(len(b)-n), p.remaining)
	chunk := b[n : n+int(take)]
	n += int(take)
	p.unmask(chunk)
	p.remaining -= take
	if p.opcode >= opClose {
		return p.controlPayload(chunk), n, nil
	}
	return p.dataPayload(chunk), n, nil
}

// readHeader gathers the frame header from b and starts the frame once
// it is whole; it returns the bytes of b it used.
func (p *frameParser) readHeader(b []byte) (int, error) {
	n := 0
	for {
		need := p.headerLen()
		if int(p.hlen) >= need {
			break
		}
		if n == len(b) {
			return n, nil
		}
		c := copy(p.hdr[p.hlen:need], b[n:])
		p.hlen += uint8(c)
		n += c
	}
	return n, p.startFrame()
}

// headerLen is the length of the header being gathered, as far as its
// first two bytes tell.
func (p *frameParser) headerLen() int {
	if p.hlen < 2 || p.hdr[1]&0x80 == 0 {
		// An unmasked frame is refused on its first two bytes.
		return 2
	}
	switch p.hdr[1] & 0x7F {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	}
	return 2 + 4
}

// startFrame checks the gathered header, as the WebSocket library of the
// goroutine read path checks it, and starts reading the frame's payload.
func (p *frameParser) startFrame() error {
	b0, b1 := p.hdr[0], p.hdr[1]
	p.hlen = 0
	fin, op := b0&0x80 != 0, b0&0x0F
	if b0&0x70 != 0 {
		return frameProtocolError(fmt.Sprintf("unexpected reserved bits 0x%x", b0&0x70))
	}
	if b1&0x80 == 0 {
		return frameProtocolError("bad MASK")
	}
	var length int64
	ext := 0
	switch l := b1 & 0x7F; l {
	case 126:
		length, ext = int64(binary.BigEndian.Uint16(p.hdr[2:4])), 2
	case 127:
		v := binary.BigEndian.Uint64(p.hdr[2:10])
		if v>>63 != 0 {
			return frameProtocolError("invalid frame length")
		}
		length, ext = int64(v), 8
	default:
		length = int64(l)
	}
	copy(p.mask[:], p.hdr[2+ext:6+ext])
	switch op {
	case opClose, opPing, opPong:
		if length > maxControlPayload {
			return frameProtocolError("control frame length > 125")
		}
		if !fin {
			return frameProtocolError("control frame not final")
		}
	case opText, opBinary:
		if p.inMessage {
			return frameProtocolError("message start before final message frame")
		}
		p.inMessage, p.binary, p.size = true, op == opBinary, 0
	case opContinuation:
		if !p.inMessage {
			return frameProtocolError("continuation after final message frame")
		}
	default:
		return frameProtocolError(fmt.Sprintf("unknown opcode %d", op))
	}
	if op < opClose {
		p.size += length
		if p.cfg.maxPayload > 0 && p.size > p.cfg.maxPayload {
			return errMessageTooBig
		}
	}
	p.inFrame, p.fin, p.opcode, p.maskPos, p.remaining = true, fin, op, 0, length
	return nil
}

// unmask unmasks b in place, the next bytes of the frame's payload.
func (p *frameParser) unmask(b []byte) {
	pos := p.maskPos
	for i := range b {
		b[i] ^= p.mask[pos&3]
		pos++
	}
	p.maskPos = pos & 3
}

// controlPayload takes chunk, the next bytes of a control frame, and
// reports the frame once its payload is complete.
func (p *frameParser) controlPayload(chunk []byte) frameEvent {
	if p.remaining > 0 || (p.split != nil && p.split.ctrl != nil) {
		sp := p.spill()
		if sp.ctrl == nil {
			sp.ctrl = make([]byte, 0, int64(len(chunk))+p.remaining)
		}
		sp.ctrl = append(sp.ctrl, chunk...)
		if p.remaining > 0 {
			return frameEvent{}
		}
		chunk, sp.ctrl = sp.ctrl, nil
		p.dropSplitIfEmpty()
	}
	p.inFrame = false
	kind := framePing
	switch p.opcode {
	case opPong:
		kind = framePong
	case opClose:
		kind = frameClose
	}
	return frameEvent{kind: kind, data: chunk}
}

// dataPayload takes chunk, the next bytes of a data frame, and reports
// the message once its last frame is complete.
func (p *frameParser) dataPayload(chunk []byte) frameEvent {
	if p.remaining == 0 && p.fin && (p.split == nil || p.split.msg.empty()) {
		// The whole message in one piece: handed over where it lies.
		p.inFrame, p.inMessage = false, false
		return frameEvent{kind: frameMessage, binary: p.binary, data: chunk}
	}
	msg := &p.spill().msg
	msg.append(p.cfg.buffers, chunk)
	if p.remaining > 0 {
		return frameEvent{}
	}
	p.inFrame = false
	if !p.fin {
		return frameEvent{}
	}
	p.inMessage = false
	return frameEvent{kind: frameMessage, binary: p.binary, data: msg.bytes()}
}

// done releases the buffer of the message last reported.
func (p *frameParser) done() {
	if p.split != nil {
		p.split.msg.release(p.cfg.buffers)
		p.dropSplitIfEmpty()
	}
}

// dropSplitIfEmpty lets go of the split frame's state once nothing is
// gathered in it.
func (p *frameParser) dropSplitIfEmpty() {
	if sp := p.split; sp != nil && sp.msg.empty() && sp.ctrl == nil {
		p.split = nil
	}
}

// msgBuf gathers a message that arrives in several pieces: in a pooled
// buffer while it fits, then in chunks of messageChunk bytes, joined once
// the message is complete. An unfinished message thus holds about what
// was sent of it, never twice that as a buffer grown by doubling would.
type msgBuf struct {
	head   *buffer
	chunks [][]byte
	size   int
	joined []byte
}

func (m *msgBuf) empty() bool { return m.head == nil }

func (m *msgBuf) append(pool *bufferPool, b []byte) {
	if m.head == nil {
		m.head = pool.get()
		m.head.B = m.head.B[:0]
	}
	m.size += len(b)
	if len(m.chunks) == 0 {
		k := min(len(b), cap(m.head.B)-len(m.head.B))
		m.head.B = append(m.head.B, b[:k]...)
		b = b[k:]
	}
	for len(b) > 0 {
		if n := len(m.chunks); n == 0 || len(m.chunks[n-1]) == cap(m.chunks[n-1]) {
			m.chunks = append(m.chunks, make([]byte, 0, messageChunk))
		}
		last := &m.chunks[len(m.chunks)-1]
		k := min(len(b), cap(*last)-len(*last))
		*last = append(*last, b[:k]...)
		b = b[k:]
	}
}

// bytes returns the whole message.
func (m *msgBuf) bytes() []byte {
	if len(m.chunks) == 0 {
		return m.head.B
	}
	m.joined = joinChunks(m.head.B, m.chunks, m.size)
	m.chunks = nil
	return m.joined
}

func (m *msgBuf) release(pool *bufferPool) {
	if m.head != nil {
		pool.put(m.head)
	}
	*m = msgBuf{}
}

// validCloseCode reports whether a client may send code in a close frame
// (RFC 6455 section 7.4).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// closeReply is the close frame payload answering a client's close frame,
// or the frameError its payload is.
func closeReply(payload []byte) ([]byte, error) {
	switch {
	case len(payload) == 0:
		return []byte{}, nil
	case len(payload) == 1:
		return nil, frameProtocolError("invalid close frame payload")
	}
	code := int(binary.BigEndian.Uint16(payload))
	if !validCloseCode(code) {
		return nil, frameProtocolError(fmt.Sprintf("bad close code %d", code))
	}
	if !utf8.Valid(payload[2:]) {
		return nil, &frameError{code: fws.CloseInvalidFramePayloadData, text: "invalid utf8 payload in close frame"}
	}
	return fws.FormatCloseMessage(code, ""), nil
}

// appendControlFrame appends an unmasked control frame, as a server sends
// it.
func appendControlFrame(b []byte, opcode byte, payload []byte) []byte {
	payload = payload[:min(len(payload), maxControlPayload)]
	b = append(b, 0x80|opcode, byte(len(payload)))
	return append(b, payload...)
}
