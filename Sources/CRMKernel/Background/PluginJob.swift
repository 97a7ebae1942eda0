import CRMPluginABI
import Foundation
import Logging

/// Runs one plugin method declared with `job_every_ms` (docs/PLUGINS.md
/// "Background jobs") on a thread of its own, "crm-job-<plugin>-<method>":
/// an in-process call with no caller (the kernel's authority, like an event
/// delivery) and an empty request. Runs never overlap; the interval counts
/// from the end of one run to the start of the next.
final class PluginJob: @unchecked Sendable {
    static let minimumMillis: UInt32 = 10
    static let maximumMillis: UInt32 = 86_400_000

    let method: PluginMethod
    private let interval: TimeInterval
    private let lock = NSCondition()
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)
    private let logger = Logger(label: "crm.kernel.jobs")

    static func start(_ method: PluginMethod) -> PluginJob {
        let job = PluginJob(method: method)
        let thread = Thread { [job] in job.loop() }
        let shortName = method.fullName.split(separator: "/").last.map(String.init) ?? method.fullName
        thread.name = "crm-job-\(method.plugin.name)-\(shortName)"
        thread.start()
        return job
    }

    private init(method: PluginMethod) {
        self.method = method
        interval = TimeInterval(method.semantics.jobEveryMillis) / 1000
    }

    private func loop() {
        defer { finished.signal() }
        while true {
            lock.lock()
            if !stopped { _ = lock.wait(until: Date().addingTimeInterval(interval)) }
            let stop = stopped
            lock.unlock()
            if stop { return }
            runOnce()
        }
    }

    private func runOnce() {
        let call = PluginCall(method: method, caller: nil, deadlineUnixMicros: 0, metadata: [])
        let status = call.runWithStorage(request: UnsafeRawBufferPointer(start: nil, count: 0))
        if status != 0 {
            // Logged, and tried again next interval: a job's state is durable, its failure passing.
            logger.warning("background job failed", metadata: [
                "method": "\(method.fullName)", "status": "\(String(cString: crm_status_name(status)))",
                "error": "\(call.statusMessage)"])
        }
    }

    /// No run starts after this; one in progress goes on to its end.
    func requestStop() {
        lock.lock()
        stopped = true
        lock.signal()
        lock.unlock()
    }

    /// Waits for the run in progress, if any, to end.
    func waitUntilStopped() {
        while finished.wait(timeout: .now() + 10) == .timedOut {
            logger.warning("waiting for a background job's run to end", metadata: ["method": "\(method.fullName)"])
        }
    }
}
