package explain

// refusalsOf lists what a guard or handler of a built-in type may refuse
// with. A type the gateway does not know (a plugin's) may return any code;
// an error without one reaches the client as internal.
func refusalsOf(kind, typ string, options any) []Refusal {
	if kind == "guard" {
		return guardRefusals(typ, options)
	}
	return handlerRefusals(typ, options)
}

func guardRefusals(typ string, options any) []Refusal {
	switch typ {
	case "max_size":
		return []Refusal{{"payload_too_large", "the payload is larger than the guard allows"}}
	case "schema":
		return []Refusal{{"invalid_payload", "the payload does not match the schema"}}
	case "rate_limit":
		return []Refusal{{"rate_limited", "the key's bucket is empty; the refusal carries retry_after_ms"}}
	case "claims":
		return []Refusal{
			{"unauthorized", "the socket has no token"},
			{"forbidden", "a claim does not hold"},
		}
	case "expr":
		code := "forbidden"
		if c, ok := optionString(options, "code"); ok && c != "" {
			code = c
		}
		return []Refusal{{code, "the condition is not true (or fails to evaluate)"}}
	}
	return pluginRefusals()
}

func handlerRefusals(typ string, options any) []Refusal {
	evaluation := Refusal{"invalid_payload", "an expression of the handler fails on the payload"}
	switch typ {
	case "broadcast", "reply", "leave":
		return []Refusal{evaluation}
	case "join":
		return []Refusal{evaluation, {"limit_exceeded", "the socket is in server.limits.max_rooms_per_socket rooms already"}}
	case "emit":
		if v, ok := optionValue(options, "await_ack"); ok && v == true {
			return []Refusal{evaluation, {"upstream_timeout", "the client does not answer within server.ack_timeout"}}
		}
		return []Refusal{evaluation}
	case "webhook":
		return []Refusal{
			{"upstream_error", "the backend cannot be reached or answers an error"},
			{"upstream_timeout", "the backend does not answer within the handler's timeout"},
		}
	case "publish":
		return []Refusal{{"upstream_error", "Redis does not take the message"}}
	}
	return pluginRefusals()
}

func pluginRefusals() []Refusal {
	return []Refusal{{"any code", "a plugin returns its own coded errors; an uncoded one reaches the client as internal"}}
}

// optionValue finds a top-level option by name.
func optionValue(options any, key string) (any, bool) {
	obj, ok := options.(object)
	if !ok {
		return nil, false
	}
	for _, m := range obj {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

func optionString(options any, key string) (string, bool) {
	v, ok := optionValue(options, key)
	s, isString := v.(string)
	return s, ok && isString
}
