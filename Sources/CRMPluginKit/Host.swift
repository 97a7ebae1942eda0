import CRMPluginABI
import Foundation

/// The host as a plugin sees it: logging, configuration, in-process calls.
///
/// Each plugin image has its own copy of this kit, so the host table kept
/// here is that plugin's alone. Safe to use from any thread.
public struct Host: @unchecked Sendable {
    let table: UnsafePointer<crm_host_api>
    let plugin: OpaquePointer

    public enum LogLevel: UInt32 { case trace = 0, debug, info, warning, error }

    public func log(_ level: LogLevel, _ message: String) {
        table.pointee.log?(plugin, crm_log_level(rawValue: level.rawValue), message)
    }

    /// A configuration value for this plugin, or nil.
    public func config(_ key: String) -> String? {
        table.pointee.config_get?(plugin, key).map { String(cString: $0) }
    }

    /// Calls another plugin's unary method in-process; the response bytes on
    /// success, PluginError with the callee's status otherwise.
    public func invoke(_ method: String, request: [UInt8], parent: CallContext? = nil) throws -> [UInt8] {
        final class Result { var bytes: [UInt8] = []; var error = "" }
        let result = Result()
        let status = request.withUnsafeBufferPointer { req in
            table.pointee.invoke!(plugin, parent?.call, method, req.baseAddress, req.count,
                                  { ctx, data, len in
                                      let r = Unmanaged<Result>.fromOpaque(ctx!).takeUnretainedValue()
                                      r.bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: len)) } ?? []
                                  },
                                  { ctx, data, len in
                                      let r = Unmanaged<Result>.fromOpaque(ctx!).takeUnretainedValue()
                                      r.error = data.map { String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
                                  },
                                  Unmanaged.passUnretained(result).toOpaque())
        }
        guard status == 0 else { throw PluginError(StatusCode(rawValue: status) ?? .unknown, result.error) }
        return result.bytes
    }
}
