import CRMPluginABI
import Foundation
import Logging

/// The function table handed to every plugin. C function pointers carry no
/// context, so the functions reach the kernel through `HostAPI.router`, set
/// once before the first plugin loads.
enum HostAPI {
    nonisolated(unsafe) static var router: Router?
    /// Set once at start, before the first plugin loads; nil without a database.
    nonisolated(unsafe) static var storage: Storage?
    static let maxInvokeDepth = 16

    /// The table; allocated once and never freed (plugins keep the pointer).
    static let table: UnsafePointer<crm_host_api> = {
        let table = UnsafeMutablePointer<crm_host_api>.allocate(capacity: 1)
        table.initialize(to: crm_host_api(
            struct_size: UInt32(MemoryLayout<crm_host_api>.size),
            abi_version: CRM_PLUGIN_ABI_VERSION,
            log: hostLog, config_get: hostConfigGet, call_context: hostCallContext,
            call_respond: hostCallRespond, call_set_message: hostCallSetMessage,
            call_send: hostCallSend, call_is_cancelled: hostCallIsCancelled,
            invoke: hostInvoke, get_feature: hostGetFeature))
        return UnsafePointer(table)
    }()
}

private let hostLog: @convention(c) (OpaquePointer?, crm_log_level, UnsafePointer<CChar>?) -> Void = { plugin, level, message in
    guard let record = PluginRecord.from(handle: plugin), let message else { return }
    let text = String(cString: message)
    switch level {
    case CRM_LOG_TRACE: record.logger.trace("\(text)")
    case CRM_LOG_DEBUG: record.logger.debug("\(text)")
    case CRM_LOG_INFO: record.logger.info("\(text)")
    case CRM_LOG_WARNING: record.logger.warning("\(text)")
    default: record.logger.error("\(text)")
    }
}

private let hostConfigGet: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> UnsafePointer<CChar>? = { plugin, key in
    guard let record = PluginRecord.from(handle: plugin), let key else { return nil }
    return record.configCString(String(cString: key))
}

private let hostCallContext: @convention(c) (OpaquePointer?) -> UnsafePointer<crm_call_context>? = { call in
    PluginCall.from(handle: call)?.cContext()
}

private let hostCallRespond: @convention(c) (OpaquePointer?, UnsafePointer<UInt8>?, Int) -> Void = { call, data, length in
    guard let call = PluginCall.from(handle: call) else { return }
    call.response = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
}

private let hostCallSetMessage: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { call, message in
    guard let call = PluginCall.from(handle: call) else { return }
    call.statusMessage = message.map { String(cString: $0) } ?? ""
}

private let hostCallSend: @convention(c) (OpaquePointer?, UnsafePointer<UInt8>?, Int) -> Int32 = { call, data, length in
    guard let call = PluginCall.from(handle: call) else { return Int32(CRM_STATUS_INVALID_ARGUMENT.rawValue) }
    guard let sink = call.streamSink else {
        call.statusMessage = "call_send on a unary method"
        return Int32(CRM_STATUS_FAILED_PRECONDITION.rawValue)
    }
    if call.isCancelled { return Int32(CRM_STATUS_CANCELLED.rawValue) }
    return sink(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : length))
}

private let hostCallIsCancelled: @convention(c) (OpaquePointer?) -> Int32 = { call in
    (PluginCall.from(handle: call)?.isCancelled ?? true) ? 1 : 0
}

private let hostGetFeature: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> UnsafeRawPointer? = { _, name in
    guard let name else { return nil }
    let feature = String(cString: name)
    // Scope needs no database; audit and redact refuse (FAILED_PRECONDITION) without a writing call.
    if feature == CRM_FEATURE_ACCESS_V1 { return UnsafeRawPointer(AccessAPI.table) }
    guard HostAPI.storage != nil else { return nil }
    switch feature {
    case CRM_FEATURE_STORAGE_V1: return UnsafeRawPointer(StorageAPI.storageTable)
    case CRM_FEATURE_BUS_V1: return UnsafeRawPointer(StorageAPI.busTable)
    default: return nil
    }
}

private let hostInvoke: @convention(c) (
    OpaquePointer?, OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<UInt8>?, Int,
    crm_bytes_sink?, crm_bytes_sink?, UnsafeMutableRawPointer?
) -> Int32 = { plugin, parentHandle, methodName, request, requestLength, sink, errorSink, sinkContext in
    func fail(_ status: crm_status, _ message: String) -> Int32 {
        if let errorSink {
            var text = message
            text.withUTF8 { errorSink(sinkContext, $0.baseAddress, $0.count) }
        }
        return Int32(status.rawValue)
    }
    guard let caller = PluginRecord.from(handle: plugin), let methodName else {
        return fail(CRM_STATUS_INVALID_ARGUMENT, "invoke needs the calling plugin and a method")
    }
    let name = String(cString: methodName)
    guard case .plugin(let method)? = HostAPI.router?.route(name) else {
        return fail(CRM_STATUS_UNIMPLEMENTED, "no plugin serves \(name)")
    }
    guard !method.serverStreaming else {
        return fail(CRM_STATUS_FAILED_PRECONDITION, "\(name) is a streaming method; invoke calls unary methods only")
    }
    let parent = PluginCall.from(handle: parentHandle)
    if (parent?.depth ?? 0) >= HostAPI.maxInvokeDepth {
        return fail(CRM_STATUS_RESOURCE_EXHAUSTED, "in-process calls nested deeper than \(HostAPI.maxInvokeDepth)")
    }
    if parent?.isCancelled == true { return fail(CRM_STATUS_CANCELLED, "the calling call was cancelled") }
    // Checked against the original caller, never the calling plugin: a
    // NULL parent from inside a handler acts for that handler's caller too.
    let principal = (parent ?? PluginCall.running)?.principal
    if let principal, let denial = AccessControl.denial(principal, service: method.service,
                                                       permission: method.semantics.permission, uid: parent?.callerUID ?? -1) {
        return fail(CRM_STATUS_PERMISSION_DENIED, denial.message)
    }
    let call = PluginCall(method: method, caller: nil, deadlineUnixMicros: parent?.deadlineUnixMicros ?? 0,
                          metadata: parent?.metadata ?? [], principal: principal, callingPlugin: caller, parent: parent)
    let status = call.runWithStorage(request: UnsafeRawBufferPointer(start: request, count: request == nil ? 0 : requestLength))
    if status == 0 {
        call.response.withUnsafeBufferPointer { sink?(sinkContext, $0.baseAddress, $0.count) }
        return 0
    }
    return fail(crm_status(rawValue: UInt32(bitPattern: status)), call.statusMessage)
}
