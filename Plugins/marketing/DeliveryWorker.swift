import CRMPluginKit
import Foundation
import MarketingContract
import Synchronization
import SwiftProtobuf

/// The RunDelivery job: claim a batch (a write), send it over SMTP on a
/// few kept connections, paced by the rate limit (no writer held), record
/// the outcomes (a write); again while the queue has due rows, for at most
/// about a second per run so shutdown never waits long.
enum DeliveryWorker {
    static let running = Atomic<Bool>(false)
    /// The kept connections, one per parallel slot (used only by the one run in progress).
    nonisolated(unsafe) static var connections: [DeliverySMTP] = []
    static let pacer = Pacer()

    static func run(_ ctx: CallContext, _ req: Crm_Marketing_V1_RunDeliveryRequest) throws -> Crm_Marketing_V1_RunDeliveryResponse {
        // A "run now" call beside the scheduled run does nothing.
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return .init() }
        defer { running.store(false, ordering: .releasing) }
        var response = Crm_Marketing_V1_RunDeliveryResponse()
        let config = DeliveryConfig.read(ctx.host)
        guard config.notConfiguredReason.isEmpty else {
            DeliveryConfig.warnOnce(ctx.host, "marketing delivery: \(config.notConfiguredReason)")
            return response
        }
        // At most a second of sending per claim, so a slow rate never holds rows past the run's budget.
        let limit = config.ratePerSecond >= Double(config.batchSize) ? config.batchSize : max(1, Int(config.ratePerSecond))
        let started = UTCClock.nowMicros()
        while UTCClock.nowMicros() - started < 1_000_000 {
            let claimed: Crm_Marketing_V1_ClaimDeliveriesResponse = try call(ctx, "ClaimDeliveries", Crm_Marketing_V1_ClaimDeliveriesRequest.with {
                $0.limit = Int32(clamping: limit)
            })
            response.claimed += Int32(claimed.deliveries.count)
            if claimed.deliveries.isEmpty { break }
            let outcomes = try send(ctx, config, claimed.deliveries)
            response.sent += Int32(outcomes.filter { $0.result == .sent }.count)
            response.failed += Int32(outcomes.filter { $0.result != .sent }.count)
            let _: Crm_Marketing_V1_RecordDeliveriesResponse = try call(ctx, "RecordDeliveries", Crm_Marketing_V1_RecordDeliveriesRequest.with { $0.outcomes = outcomes })
            if claimed.deliveries.count < limit { break }
        }
        return response
    }

    private static func call<R: SwiftProtobuf.Message>(_ ctx: CallContext, _ method: String, _ request: some SwiftProtobuf.Message) throws -> R {
        try R(serializedBytes: try ctx.host.invoke(Marketing.service + method, request: try request.serializedBytes(), parent: ctx))
    }

    /// Builds each message (tracked bodies decorated now, on the job's
    /// thread: Tracking may call the host) and sends them in parallel slots.
    static func send(_ ctx: CallContext, _ config: DeliveryConfig, _ batch: [Crm_Marketing_V1_ClaimedDelivery]) throws -> [Crm_Marketing_V1_DeliveryOutcome] {
        var wire: [[UInt8]?] = []
        var outcomes = [Crm_Marketing_V1_DeliveryOutcome?](repeating: nil, count: batch.count)
        let decorator = batch.contains(where: \.tracked) ? try Tracking.Decorator(ctx) : nil
        for (i, d) in batch.enumerated() {
            var html = d.htmlBody, text = d.textBody
            if d.tracked, let decorator { (html, text) = decorator.decorate(html: html, text: text, outboxID: d.id) }
            do {
                wire.append(try DeliveryMIME.build(.init(from: config.from, to: d.toAddress, subject: d.subject, html: html,
                                                         text: text, unsubscribeURL: d.unsubscribeURL, messageID: d.messageID,
                                                         dateUs: UTCClock.nowMicros())))
            } catch let refused as DeliveryMIME.Refused {
                wire.append(nil)
                outcomes[i] = outcome(d, .permanent, 0, refused.reason)
            }
        }
        let slots = min(config.connections, batch.count)
        while connections.count < slots {
            guard let c = DeliverySMTP() else { throw PluginError(.internal, "libcurl could not make an easy handle") }
            connections.append(c)
        }
        let results = Mutex(outcomes)
        let pool = connections
        let interval = Int64(1_000_000 / config.ratePerSecond)
        DispatchQueue.concurrentPerform(iterations: slots) { slot in
            for i in stride(from: slot, to: batch.count, by: slots) {
                guard let bytes = wire[i] else { continue }
                pacer.wait(interval: interval)
                let r = pool[slot].send(config, to: batch[i].toAddress, message: bytes)
                let kind: Crm_Marketing_V1_DeliveryResult = switch r.kind {
                case .sent: .sent
                case .temporary: .temporary
                case .permanent: .permanent
                }
                results.withLock { $0[i] = outcome(batch[i], kind, r.code, r.reply) }
            }
        }
        return results.withLock { $0.compactMap { $0 } }
    }

    static func outcome(_ d: Crm_Marketing_V1_ClaimedDelivery, _ result: Crm_Marketing_V1_DeliveryResult, _ code: Int32,
                        _ reply: String) -> Crm_Marketing_V1_DeliveryOutcome {
        .with {
            $0.id = d.id
            $0.attempt = d.attempt
            $0.result = result
            $0.smtpCode = code
            $0.reply = reply
        }
    }
}

/// The per-channel rate limit (email is the one channel sent): sends are
/// spaced `interval` apart across all connections, with no burst, so any
/// one-second window holds at most rate + 1 sends.
final class Pacer: Sendable {
    private let next = Mutex<Int64>(0)

    func wait(interval: Int64) {
        let now = UTCClock.nowMicros()
        let slot = next.withLock { next -> Int64 in
            let t = max(next, now)
            next = t + interval
            return t
        }
        if slot > now { usleep(UInt32(clamping: slot - now)) }
    }
}
