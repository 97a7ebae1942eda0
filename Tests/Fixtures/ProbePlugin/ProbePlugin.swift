import CRMPluginABI
import CRMPluginKit
import Foundation
import ProbeContract
import Synchronization

typealias EchoRequest = Crm_Testing_V1_EchoRequest
typealias EchoResponse = Crm_Testing_V1_EchoResponse
typealias CountResponse = Crm_Testing_V1_CountResponse

/// A test fixture plugin written on the Swift plugin kit. Its methods expose
/// the call machinery (context, cancellation, streaming, in-process calls)
/// so the integration tests can check each over the real socket.
enum Probe {
    static let calls = Atomic<UInt64>(0)
    static let cancellationsSeen = Atomic<UInt64>(0)
    static let service = "/crm.testing.v1.Probe/"

    static let definition: PluginDefinition = {
        let def = PluginDefinition(name: "probe", version: "1.0.0", summary: "Conformance probe (test fixture)")
        def.descriptorSet = probeDescriptorSet
        def.unary(service + "Echo", echo)
        def.unary(service + "Sleep", sleep)
        def.unary(service + "Fail", fail)
        def.serverStream(service + "Count", count)
        def.unary(service + "Relay", relay)
        def.unary(service + "Stats", stats)
        ProbeStorage.register(on: def)
        ProbeJob.register(on: def)
        def.onInit = { host in host.log(.info, "probe ready") }
        def.onShutdown = writeShutdownMarker
        return def
    }()

    static func echo(_ ctx: CallContext, _ req: EchoRequest) -> EchoResponse {
        calls.add(1, ordering: .relaxed)
        var response = EchoResponse()
        response.payload = req.payload
        response.method = ctx.method
        response.callerUid = ctx.callerUID
        response.callerGid = ctx.callerGID
        response.callerPid = ctx.callerPID
        response.deadlineUnixUs = ctx.deadlineUnixMicros
        response.metadata = ctx.metadata
        response.configGreeting = ctx.host.config("greeting") ?? ""
        response.user = ctx.user ?? ""
        response.proxyUid = ctx.proxyUID
        let scope = ctx.scope(for: req.scopePermission.isEmpty ? nil : req.scopePermission)
        response.scopeReach = scope.reach.rawValue
        response.scopeOwners = scope.owners
        return response
    }

    static func sleep(_ ctx: CallContext, _ req: Crm_Testing_V1_SleepRequest) -> Crm_Testing_V1_SleepResponse {
        calls.add(1, ordering: .relaxed)
        var response = Crm_Testing_V1_SleepResponse()
        // Counted in steps of 2 that stop short of the request: never past UInt32.max.
        while response.sleptMillis < req.millis && req.millis - response.sleptMillis >= 2 {
            if ctx.isCancelled {
                cancellationsSeen.add(1, ordering: .relaxed)
                response.cancelled = true
                return response
            }
            usleep(2_000)
            response.sleptMillis += 2
        }
        return response
    }

    static func fail(_ ctx: CallContext, _ req: Crm_Testing_V1_FailRequest) throws -> Crm_Testing_V1_FailResponse {
        calls.add(1, ordering: .relaxed)
        guard let status = StatusCode(rawValue: try Checked.convert(req.code, to: Int32.self, "code")) else {
            throw PluginError.invalidArgument("code \(req.code) is not a status code")
        }
        if status == .ok { return Crm_Testing_V1_FailResponse() }
        throw PluginError(status, req.message)
    }

    static func count(_ ctx: CallContext, _ req: Crm_Testing_V1_CountRequest,
                      _ send: (CountResponse) throws -> Void) throws {
        calls.add(1, ordering: .relaxed)
        // usleep takes a UInt32 of microseconds.
        let intervalMicros = try Checked.convert(UInt64(req.intervalMillis) * 1000, to: UInt32.self, "interval_millis × 1000")
        var n: UInt32 = 0
        while n < req.count {
            if ctx.isCancelled {
                cancellationsSeen.add(1, ordering: .relaxed)
                throw PluginError(.cancelled, "cancelled")
            }
            n += 1
            var message = CountResponse()
            message.n = n
            do { try send(message) } catch {
                // A cancel can reach the sink (whose write then fails) before the loop looks.
                if ctx.isCancelled { cancellationsSeen.add(1, ordering: .relaxed) }
                throw error
            }
            if intervalMicros > 0 { usleep(intervalMicros) }
        }
    }

    static func relay(_ ctx: CallContext, _ req: Crm_Testing_V1_RelayRequest) -> Crm_Testing_V1_RelayResponse {
        calls.add(1, ordering: .relaxed)
        var response = Crm_Testing_V1_RelayResponse()
        do {
            response.payload = Data(try ctx.host.invoke(req.method, request: Array(req.payload),
                                                        parent: req.withoutParent ? nil : ctx))
        } catch let error as PluginError {
            response.status = UInt32(error.status.rawValue)
            response.message = error.message
        } catch {
            response.status = UInt32(StatusCode.internal.rawValue)
        }
        return response
    }

    static func stats(_ ctx: CallContext, _ req: Crm_Testing_V1_StatsRequest) -> Crm_Testing_V1_StatsResponse {
        var response = Crm_Testing_V1_StatsResponse()
        response.calls = calls.load(ordering: .relaxed)
        response.cancellationsSeen = cancellationsSeen.load(ordering: .relaxed)
        response.ticks = ProbeJob.ticks.load(ordering: .relaxed)
        response.maxConcurrentTicks = ProbeJob.maxConcurrent.load(ordering: .relaxed)
        return response
    }

    /// Lets the shutdown test see that the hook ran after the last call.
    static func writeShutdownMarker() {
        if let path = ProcessInfo.processInfo.environment["CRM_PROBE_SHUTDOWN_MARKER"] {
            FileManager.default.createFile(atPath: path, contents: Data("probe shutdown\n".utf8))
        }
    }
}

@_cdecl("crm_plugin_entry")
public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
    Probe.definition.export(hostABI: abi, host: host)
}
