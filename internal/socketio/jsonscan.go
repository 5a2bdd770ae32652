package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// maxJSONDepth bounds the nesting the scanner follows. encoding/json refuses
// deeper documents already (json.Valid runs first), so this only guards the
// recursion against input that skipped validation.
const maxJSONDepth = 10000

var errJSONStructure = errors.New("malformed JSON")

// placeholderRef locates one Socket.IO binary placeholder object
// ({"_placeholder":true,"num":N}) inside a JSON document: the byte span of its
// "num" value, numStart < 0 when the object has no "num".
type placeholderRef struct {
	numStart, numEnd int
}

// jsonScanner walks a JSON document that json.Valid accepted, without
// building values, so that arguments can be split and placeholders found
// while the bytes stay exactly as the client sent them. It checks bounds on
// every step, so invalid input yields an error, never a panic.
type jsonScanner struct {
	data []byte
	// onPlaceholder, when set, is called for every object whose
	// "_placeholder" member is true (the test the reference parser applies).
	onPlaceholder func(ref placeholderRef) error
}

func (s *jsonScanner) skipSpace(i int) int {
	for i < len(s.data) {
		switch s.data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value scans the value starting at or after i and returns the index just
// past it.
func (s *jsonScanner) value(i, depth int) (int, error) {
	i = s.skipSpace(i)
	if i >= len(s.data) {
		return i, errJSONStructure
	}
	if depth > maxJSONDepth {
		return i, errJSONStructure
	}
	switch s.data[i] {
	case '{':
		return s.object(i+1, depth+1)
	case '[':
		return s.array(i+1, depth+1, nil)
	case '"':
		return s.str(i)
	default:
		return s.literal(i)
	}
}

func (s *jsonScanner) str(i int) (int, error) {
	for j := i + 1; j < len(s.data); j++ {
		switch s.data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return len(s.data), errJSONStructure
}

func (s *jsonScanner) literal(i int) (int, error) {
	j := i
	for j < len(s.data) {
		switch s.data[j] {
		case ',', '}', ']', ':', ' ', '\t', '\n', '\r':
			if j == i {
				return j, errJSONStructure
			}
			return j, nil
		}
		j++
	}
	if j == i {
		return j, errJSONStructure
	}
	return j, nil
}

// array scans the elements after '['; each element's span is passed to
// element when it is not nil.
func (s *jsonScanner) array(i, depth int, element func(start, end int)) (int, error) {
	i = s.skipSpace(i)
	if i < len(s.data) && s.data[i] == ']' {
		return i + 1, nil
	}
	for {
		start := s.skipSpace(i)
		end, err := s.value(start, depth)
		if err != nil {
			return end, err
		}
		if element != nil {
			element(start, end)
		}
		i = s.skipSpace(end)
		if i >= len(s.data) {
			return i, errJSONStructure
		}
		switch s.data[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return i, errJSONStructure
		}
	}
}

func (s *jsonScanner) object(i, depth int) (int, error) {
	isPlaceholder := false
	numStart, numEnd := -1, -1
	i = s.skipSpace(i)
	if i < len(s.data) && s.data[i] == '}' {
		return i + 1, nil
	}
	for {
		i = s.skipSpace(i)
		if i >= len(s.data) || s.data[i] != '"' {
			return i, errJSONStructure
		}
		keyEnd, err := s.str(i)
		if err != nil {
			return keyEnd, err
		}
		key := s.data[i:keyEnd]
		i = s.skipSpace(keyEnd)
		if i >= len(s.data) || s.data[i] != ':' {
			return i, errJSONStructure
		}
		valueStart := s.skipSpace(i + 1)
		valueEnd, err := s.value(valueStart, depth)
		if err != nil {
			return valueEnd, err
		}
		if s.onPlaceholder != nil {
			// A repeated key counts with its last value, as in JSON.parse.
			switch {
			case keyIs(key, "_placeholder"):
				isPlaceholder = string(s.data[valueStart:valueEnd]) == "true"
			case keyIs(key, "num"):
				numStart, numEnd = valueStart, valueEnd
			}
		}
		i = s.skipSpace(valueEnd)
		if i >= len(s.data) {
			return i, errJSONStructure
		}
		if s.data[i] == ',' {
			i++
			continue
		}
		if s.data[i] != '}' {
			return i, errJSONStructure
		}
		i++
		break
	}
	if isPlaceholder && s.onPlaceholder != nil {
		if err := s.onPlaceholder(placeholderRef{numStart: numStart, numEnd: numEnd}); err != nil {
			return i, err
		}
	}
	return i, nil
}

// keyIs compares a quoted JSON key with name, unescaping only when the key
// holds escapes (clients could spell "_placeholder" with \u sequences).
func keyIs(quoted []byte, name string) bool {
	if len(quoted) < 2 {
		return false
	}
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	var key string
	if err := json.Unmarshal(quoted, &key); err != nil {
		return false
	}
	return key == name
}

// splitArray returns the elements of a JSON array, each as the raw bytes the
// document holds (sub-slices of data, not copies).
func splitArray(data []byte) ([]json.RawMessage, error) {
	s := jsonScanner{data: data}
	i := s.skipSpace(0)
	if i >= len(data) || data[i] != '[' {
		return nil, errJSONStructure
	}
	elements := make([]json.RawMessage, 0, 4)
	end, err := s.array(i+1, 1, func(start, end int) {
		elements = append(elements, json.RawMessage(data[start:end:end]))
	})
	if err != nil {
		return nil, err
	}
	if s.skipSpace(end) != len(data) {
		return nil, errJSONStructure
	}
	return elements, nil
}

// placeholderIndex parses a placeholder's "num" and checks it refers to one
// of count attachments. Like the reference parser it takes any JSON number;
// unlike it, a fractional one is refused instead of yielding undefined.
func placeholderIndex(data []byte, ref placeholderRef, count int) (int, error) {
	if ref.numStart < 0 {
		return 0, errors.New("binary placeholder without num")
	}
	n, err := strconv.ParseFloat(string(data[ref.numStart:ref.numEnd]), 64)
	if err != nil || n != math.Trunc(n) || n < 0 || n >= float64(count) {
		return 0, errors.New("binary placeholder refers to no attachment")
	}
	return int(n), nil
}

// checkPlaceholders verifies that every placeholder in data refers to one of
// count attachments.
func checkPlaceholders(data []byte, count int) error {
	s := jsonScanner{data: data, onPlaceholder: func(ref placeholderRef) error {
		_, err := placeholderIndex(data, ref, count)
		return err
	}}
	if _, err := s.value(0, 0); err != nil {
		return err
	}
	return nil
}

// appendShiftedPlaceholders appends raw to dst with the num of every
// placeholder increased by offset, so that arguments carrying their own
// attachments can be combined in one packet. count is the number of
// attachments raw's placeholders may refer to.
func appendShiftedPlaceholders(dst []byte, raw []byte, offset, count int) ([]byte, error) {
	var refs []placeholderRef
	var nums []int
	s := jsonScanner{data: raw, onPlaceholder: func(ref placeholderRef) error {
		n, err := placeholderIndex(raw, ref, count)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
		nums = append(nums, n)
		return nil
	}}
	if _, err := s.value(0, 0); err != nil {
		return dst, err
	}
	if offset == 0 || len(refs) == 0 {
		return append(dst, raw...), nil
	}
	// Objects are reported when they close, so nested placeholders (a
	// placeholder inside another's extra member) may come out of order.
	sortRefs(refs, nums)
	last := 0
	for k, ref := range refs {
		dst = append(dst, raw[last:ref.numStart]...)
		dst = strconv.AppendInt(dst, int64(nums[k]+offset), 10)
		last = ref.numEnd
	}
	return append(dst, raw[last:]...), nil
}

// sortRefs orders refs (and their nums) by position; the lists are short, so
// insertion sort keeps it allocation-free.
func sortRefs(refs []placeholderRef, nums []int) {
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && refs[j].numStart < refs[j-1].numStart; j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
			nums[j], nums[j-1] = nums[j-1], nums[j]
		}
	}
}

// ObjectMember returns the raw value of member key of the JSON object obj
// (the last one when the key repeats, as JSON.parse has it), or false when
// obj is not an object or has no such member. obj must be valid JSON, such
// as the auth payload of a decoded CONNECT packet (the decoder checked it);
// anything else yields false or a wrong span, never a panic. It reads the
// one member without decoding the object into a map.
func ObjectMember(obj []byte, key string) (json.RawMessage, bool) {
	s := jsonScanner{data: obj}
	i := s.skipSpace(0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i = s.skipSpace(i + 1)
	if i < len(obj) && obj[i] == '}' {
		return nil, false
	}
	var found json.RawMessage
	for {
		i = s.skipSpace(i)
		if i >= len(obj) || obj[i] != '"' {
			return nil, false
		}
		keyEnd, err := s.str(i)
		if err != nil {
			return nil, false
		}
		name := obj[i:keyEnd]
		i = s.skipSpace(keyEnd)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		valueStart := s.skipSpace(i + 1)
		valueEnd, err := s.value(valueStart, 1)
		if err != nil {
			return nil, false
		}
		if keyIs(name, key) {
			found = obj[valueStart:valueEnd]
		}
		i = s.skipSpace(valueEnd)
		if i >= len(obj) {
			return nil, false
		}
		switch obj[i] {
		case ',':
			i++
		case '}':
			return found, found != nil
		default:
			return nil, false
		}
	}
}
