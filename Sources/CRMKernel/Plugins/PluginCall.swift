import CRMPluginABI
import Foundation
import Synchronization

/// One call into a plugin handler: what the plugin sees as `crm_call *`.
///
/// Created on an event loop, run on a worker thread. `cancel()` may come from
/// any thread; the response fields are touched only by the thread running
/// the handler.
final class PluginCall: @unchecked Sendable {
    let method: PluginMethod
    let callerUID: Int64, callerGID: Int64, callerPID: Int64
    let deadlineUnixMicros: UInt64
    let metadata: [(String, String)]
    let callingPlugin: PluginRecord?
    /// Who the call acts for, checked before dispatch: the socket caller's,
    /// inherited by in-process calls. Nil for event deliveries and calls
    /// made outside any call, which have no client (the kernel's authority).
    let principal: Principal?
    /// In-process nesting depth; bounded so plugins cannot recurse forever.
    let depth: Int
    let parent: PluginCall?
    private let cancelledFlag = Atomic<Bool>(false)

    var response: [UInt8] = []
    var statusMessage = ""
    /// Sends one stream message; blocks while the client is slow. Returns a crm_status.
    var streamSink: ((UnsafeRawBufferPointer) -> Int32)?
    /// Set by the host when a stream send failed for a reason the client must
    /// see (message over the limit); it wins over the handler's own status.
    private(set) var streamFailure: (status: Int32, message: String)?

    func failStream(_ status: Int32, _ message: String) {
        if streamFailure == nil { streamFailure = (status, message) }
    }

    /// The database session of the running handler (see PluginCall+Storage).
    var session: StorageSession?
    /// The last storage error's message, kept as a C string for `last_error`.
    private var lastErrorText: UnsafeMutablePointer<CChar>?

    private var context: UnsafeMutablePointer<crm_call_context>?
    private var contextStrings: [UnsafeMutablePointer<CChar>] = []
    private var contextMetadata: UnsafeMutablePointer<crm_metadata_entry>?

    init(method: PluginMethod, caller: PeerCredentials?, deadlineUnixMicros: UInt64,
         metadata: [(String, String)], principal: Principal? = nil, callingPlugin: PluginRecord? = nil,
         parent: PluginCall? = nil) {
        self.method = method
        callerUID = caller.map { Int64($0.uid) } ?? -1
        callerGID = caller.map { Int64($0.gid) } ?? -1
        callerPID = caller.map { Int64($0.pid) } ?? -1
        self.deadlineUnixMicros = deadlineUnixMicros
        self.metadata = metadata
        self.callingPlugin = callingPlugin
        self.principal = principal
        self.parent = parent
        depth = (parent?.depth ?? 0) + 1
    }

    deinit {
        free(lastErrorText)
        contextStrings.forEach { free($0) }
        contextMetadata?.deallocate()
        context?.deallocate()
    }

    func cancel() { cancelledFlag.store(true, ordering: .relaxed) }

    /// Records a storage failure: the message becomes the call's status
    /// message and what `last_error` returns. Returns the status.
    func storageFailed(_ error: SessionError) -> Int32 {
        statusMessage = error.message
        free(lastErrorText)
        lastErrorText = strdup(error.message)
        return Int32(error.status.rawValue)
    }

    var lastStorageError: UnsafePointer<CChar>? { lastErrorText.map { UnsafePointer($0) } }

    var isCancelled: Bool {
        if cancelledFlag.load(ordering: .relaxed) { return true }
        if deadlineUnixMicros != 0 && Clock.unixMicros() >= deadlineUnixMicros { return true }
        return parent?.isCancelled ?? false
    }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(handle: OpaquePointer?) -> PluginCall? {
        guard let handle else { return nil }
        return Unmanaged<PluginCall>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// The call whose handler runs on this thread, if any: an in-process
    /// call made with a NULL parent from inside a handler still acts for
    /// that handler's caller (HostAPI's invoke).
    static var running: PluginCall? {
        pthread_getspecific(runningKey).map { Unmanaged<PluginCall>.fromOpaque($0).takeUnretainedValue() }
    }

    private static let runningKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs the plugin's handler on the current thread; returns its status.
    func run(request: UnsafeRawBufferPointer) -> Int32 {
        let outer = pthread_getspecific(Self.runningKey)
        pthread_setspecific(Self.runningKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(Self.runningKey, outer) }
        return withExtendedLifetime(self) {
            let bytes = request.baseAddress?.assumingMemoryBound(to: UInt8.self)
            if let pluginHandler = method.pluginHandler {
                return pluginHandler(method.plugin.handle, HostAPI.table, method.methodData, handle, bytes, request.count)
            }
            return method.handler?(method.methodData, handle, bytes, request.count) ?? Int32(CRM_STATUS_INTERNAL.rawValue)
        }
    }

    /// The C view of this call, built on first use (most handlers never ask).
    func cContext() -> UnsafePointer<crm_call_context> {
        if let context { return UnsafePointer(context) }
        func keep(_ s: String) -> UnsafePointer<CChar> {
            let copy = strdup(s)!
            contextStrings.append(copy)
            return UnsafePointer(copy)
        }
        let entries = UnsafeMutablePointer<crm_metadata_entry>.allocate(capacity: max(metadata.count, 1))
        for (i, (key, value)) in metadata.enumerated() {
            entries[i] = crm_metadata_entry(key: keep(key), value: keep(value))
        }
        contextMetadata = entries
        let ctx = UnsafeMutablePointer<crm_call_context>.allocate(capacity: 1)
        ctx.initialize(to: crm_call_context(
            struct_size: UInt32(MemoryLayout<crm_call_context>.size),
            method: UnsafePointer(method.cFullName),
            caller_uid: callerUID, caller_gid: callerGID, caller_pid: callerPID,
            deadline_unix_us: deadlineUnixMicros,
            metadata: UnsafePointer(entries), metadata_count: metadata.count,
            calling_plugin: callingPlugin.map { keep($0.name) },
            user: principal?.user.map { keep($0) }, proxy_uid: principal?.proxyUID ?? -1))
        context = ctx
        return UnsafePointer(ctx)
    }
}

/// The caller's identity from the socket (SO_PEERCRED).
public struct PeerCredentials: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32
}

enum Clock {
    static func monotonicMicros() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
    }

    static func unixMicros() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
    }
}
