import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print bus events: the stored ones after --after, then (with --follow) new ones as they commit.",
        discussion: """
        Patterns are dot-separated topics where "*" matches one segment and a
        final ">" one or more: crmctl events --follow 'contacts.contact.*' 'sales.>'
        Each line: sequence, UTC time, topic, type, publisher, payload as base64.
        With --format json, one JSON object per line.
        """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "Start after this sequence number (default 0: from the oldest stored).")
    var after: UInt64 = 0

    @Flag(name: .long, help: "Keep following new events until interrupted.")
    var follow = false

    @Option(name: .long, help: "text or json.")
    var format: String = "text"

    @Flag(name: .long, help: "Print only how many events arrived and how fast, without decoding them (a replay benchmark).")
    var summary = false

    @Argument(help: "Topic patterns (default: every topic).")
    var patterns: [String] = []

    func validate() throws {
        guard format == "text" || format == "json" else { throw ValidationError("--format must be text or json") }
    }

    func run() async throws {
        let request = Crm_Kernel_V1_SubscribeRequest.with {
            $0.topicPatterns = patterns
            $0.afterSequence = after
            $0.replayOnly = !follow
        }
        let started = ContinuousClock.now
        let counter = EventCounter()
        do {
            try await runCalls { try await stream(request, counter) }
        } catch {
            printSummary(counter.count, since: started)
            throw error
        }
        printSummary(counter.count, since: started)
    }

    private func printSummary(_ count: Int, since started: ContinuousClock.Instant) {
        guard summary else { return }
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        print("\(count) events in \(String(format: "%.3f", seconds)) s (\(Int(Double(count) / max(seconds, 1e-9))) events/s)")
    }

    private func stream(_ request: Crm_Kernel_V1_SubscribeRequest, _ counter: EventCounter) async throws {
        let client = try connection.connect()
        if summary {
            // Counts frames without decoding them: measures what crmd delivers.
            for try await _ in client.stream("/crm.kernel.v1.Events/Subscribe", try request.serializedBytes()).messages {
                counter.count += 1
            }
            return
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        for try await event in try client.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
            counter.count += 1
            let time = formatter.string(from: Date(timeIntervalSince1970: Double(event.publishedAtUnixUs) / 1_000_000))
            if format == "json" {
                let object: [String: Any] = [
                    "sequence": event.sequence, "published_at": time, "topic": event.topic,
                    "type": event.typeName, "publisher": event.publisher,
                    "payload_base64": event.payload.base64EncodedString(),
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("\(event.sequence) \(time) \(event.topic) \(event.typeName) \(event.publisher) \(event.payload.base64EncodedString())")
            }
            fflush(stdout)
        }
    }
}

/// Events printed so far, kept outside the stream's task for the summary.
private final class EventCounter: @unchecked Sendable {
    var count = 0
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the live database to FILE (crmd writes it; writes go on meanwhile).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The backup file; must not exist.")
    var file: String

    func run() async throws {
        try await runCalls {
            let client = try connection.connect()
            let path = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
            let response = try await client.call("/crm.kernel.v1.Storage/Backup",
                                                 Crm_Kernel_V1_BackupRequest.with { $0.path = path },
                                                 as: Crm_Kernel_V1_BackupResponse.self)
            print("backup written to \(path): \(response.bytes) bytes, events through \(response.lastEventSequence), \(response.durationUs / 1000) ms")
        }
    }
}
