import CRMPluginKit
import Foundation
import ProbeContract
import Synchronization

/// The probe's background job (job_every_ms in probe.proto): what the job
/// tests watch — how often it runs, whether runs overlap, and that a run in
/// progress at SIGTERM finishes.
enum ProbeJob {
    static let ticks = Atomic<UInt64>(0)
    static let running = Atomic<UInt64>(0)
    static let maxConcurrent = Atomic<UInt64>(0)
    static let started = Atomic<UInt64>(0)
    static let sleepMillis = UInt32(ProcessInfo.processInfo.environment["CRM_PROBE_TICK_MILLIS"] ?? "") ?? 0
    static let logPath = ProcessInfo.processInfo.environment["CRM_PROBE_TICK_LOG"]
    static let logLock = Mutex(())

    static func register(on def: PluginDefinition) {
        def.unary(Probe.service + "Tick", tick)
    }

    static func tick(_ ctx: CallContext, _ req: Crm_Testing_V1_TickRequest) throws -> Crm_Testing_V1_TickResponse {
        // Other suites count probe_items: the job writes only for the job tests.
        guard logPath != nil else {
            ticks.add(1, ordering: .relaxed)
            return Crm_Testing_V1_TickResponse()
        }
        let now = running.add(1, ordering: .relaxed).newValue
        defer { running.subtract(1, ordering: .relaxed) }
        while true {
            let seen = maxConcurrent.load(ordering: .relaxed)
            if now <= seen || maxConcurrent.compareExchange(expected: seen, desired: now, ordering: .relaxed).exchanged { break }
        }
        let n = started.add(1, ordering: .relaxed).newValue
        log("start \(n)")
        if sleepMillis > 0 { usleep(sleepMillis * 1000) }
        // The job writes through its own writing method, in-process: the writer is held only for that.
        var put = Crm_Testing_V1_PutRequest()
        put.key = "tick-\(getpid())-\(n)"
        put.value = "tick"
        _ = try ctx.host.invoke(Probe.service + "Put", request: try put.serializedBytes(), parent: ctx)
        log("end \(n)")
        ticks.add(1, ordering: .relaxed)
        var response = Crm_Testing_V1_TickResponse()
        response.n = n
        return response
    }

    private static func log(_ line: String) {
        guard let logPath else { return }
        logLock.withLock { _ in
            guard let handle = FileHandle(forWritingAtPath: logPath) ?? {
                FileManager.default.createFile(atPath: logPath, contents: nil)
                return FileHandle(forWritingAtPath: logPath)
            }() else { return }
            handle.seekToEndOfFile()
            handle.write(Data((line + "\n").utf8))
            try? handle.synchronize()
            try? handle.close()
        }
    }
}
