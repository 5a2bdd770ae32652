package expr

import (
	"errors"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// RoomPresence gives the figures the presence variable reads: how many
// users are in a room and whether one is. The gateway's sockets give this
// node's figures (see docs/presence.md); a socket that does not implement
// it reads as empty rooms.
type RoomPresence interface {
	// PresenceCount is the number of users (token subjects) in room.
	PresenceCount(room string) int
	// PresenceHas reports whether a socket of user is in room.
	PresenceHas(room, user string) bool
}

// presenceType is the type of the presence variable: opaque, read only
// through its functions presence.count(room) and presence.member(room, user).
var presenceType = cel.OpaqueType("gatehouse.presence")

// presenceEnv declares the presence variable and its functions.
func presenceEnv() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Variable("presence", presenceType),
		cel.Function("count", cel.MemberOverload("presence_count_string",
			[]*cel.Type{presenceType, cel.StringType}, cel.IntType,
			cel.BinaryBinding(func(p, room ref.Val) ref.Val {
				src, name := presenceOf(p), room.(types.String)
				if src == nil {
					return types.Int(0)
				}
				return types.Int(src.PresenceCount(string(name)))
			}))),
		cel.Function("member", cel.MemberOverload("presence_member_string_string",
			[]*cel.Type{presenceType, cel.StringType, cel.StringType}, cel.BoolType,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				src := presenceOf(args[0])
				if src == nil {
					return types.False
				}
				return types.Bool(src.PresenceHas(string(args[1].(types.String)), string(args[2].(types.String))))
			}))),
	}
}

func presenceOf(v ref.Val) RoomPresence {
	if p, ok := v.(presenceVal); ok {
		return p.src
	}
	return nil
}

// presenceVal is the value of the presence variable.
type presenceVal struct{ src RoomPresence }

var errPresenceOpaque = errors.New("presence is read through presence.count(room) and presence.member(room, user)")

func (presenceVal) ConvertToNative(reflect.Type) (any, error) { return nil, errPresenceOpaque }

func (p presenceVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return presenceType
	}
	return types.WrapErr(errPresenceOpaque)
}

func (presenceVal) Equal(ref.Val) ref.Val { return types.False }
func (presenceVal) Type() ref.Type        { return presenceType }
func (p presenceVal) Value() any          { return p.src }
