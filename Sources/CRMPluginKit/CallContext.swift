import CRMPluginABI

/// What a handler knows about its call. Valid only while the handler runs.
public struct CallContext {
    let call: OpaquePointer
    public let host: Host

    private var raw: crm_call_context { host.table.pointee.call_context!(call)!.pointee }

    /// "/package.Service/Method"
    public var method: String { String(cString: raw.method) }
    /// The caller's uid, gid and pid from the socket; -1 for in-process calls.
    public var callerUID: Int64 { raw.caller_uid }
    public var callerGID: Int64 { raw.caller_gid }
    public var callerPID: Int64 { raw.caller_pid }
    /// Microseconds since the Unix epoch (UTC); 0 when the call has no deadline.
    public var deadlineUnixMicros: UInt64 { raw.deadline_unix_us }
    /// The plugin that called in-process, if any.
    public var callingPlugin: String? { raw.calling_plugin.map { String(cString: $0) } }
    /// The CRM user the call acts for (for an in-process call, the original
    /// caller's); nil for crmd's own uid or root acting for no user, for
    /// event deliveries, and on a host older than these fields.
    public var user: String? {
        let ctx = raw
        guard Self.has(\.user, size: MemoryLayout<UnsafePointer<CChar>?>.size, in: ctx) else { return nil }
        return ctx.user.map { String(cString: $0) }
    }
    /// The uid of the trusted proxy that asserted `user`; -1 when none did.
    public var proxyUID: Int64 {
        let ctx = raw
        guard Self.has(\.proxy_uid, size: MemoryLayout<Int64>.size, in: ctx) else { return -1 }
        return ctx.proxy_uid
    }

    /// Whether the host's context is long enough to hold the member.
    private static func has<T>(_ member: KeyPath<crm_call_context, T>, size: Int, in ctx: crm_call_context) -> Bool {
        guard let offset = MemoryLayout<crm_call_context>.offset(of: member) else { return false }
        return Int(ctx.struct_size) >= offset + size
    }

    public var metadata: [String: String] {
        let ctx = raw
        var out: [String: String] = [:]
        for i in 0..<ctx.metadata_count {
            let entry = ctx.metadata[i]
            out[String(cString: entry.key)] = String(cString: entry.value)
        }
        return out
    }

    /// True once the client cancelled or the deadline passed: stop work and return.
    public var isCancelled: Bool { host.table.pointee.call_is_cancelled!(call) != 0 }
}
