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
