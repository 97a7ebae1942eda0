import ArgumentParser
import CRMClient
import CRMWire
import Foundation

struct BenchEventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-events",
        abstract: "Drive a write method at a fixed rate and time the event each write causes (write-to-event delay).",
        discussion: """
        Opens an Events/Subscribe stream for the --topic patterns, starting at
        the newest committed event, then calls --method --rate times a second
        for --duration seconds. Each call's "$RANDOM" in --json becomes a key
        picked at random in --random MIN:MAX, and the write is matched to the
        first event after it whose --key field equals that key (and that passes
        every --where). It reports the delay from the write's answer (and from
        its start) to the event's arrival here: p50, p90, p99, p99.9, max, the
        writes whose event never came within --timeout (lost), the events that
        matched no write (unmatched), and the rate achieved.

        A state that flips back and forth: give --json several times. The n-th
        successful write to a key uses the n-th template, in turn, so two
        templates toggle (e.g. add a tag, then clear it). Example, membership
        of a segment whose rule is "tag EQUALS bench-hot" (segment 4):
          crmctl bench-events --topic marketing.segment.entered --topic marketing.segment.left \\
            --key payload.personId --where payload.segmentId=4 \\
            --method /crm.contacts.v1.Contacts/UpdatePerson --random 1:1000000 \\
            --json '{"person":{"id":"$RANDOM","tags":["bench-hot"]},"updateMask":["tags"]}' \\
            --json '{"person":{"id":"$RANDOM"},"updateMask":["tags"]}' --rate 1000 --duration 10

        Fields for --key and --where: topic, record_id, entity, owner (the
        event's envelope), or payload.<path>: a field of the payload decoded as
        its protobuf JSON (lowerCamelCase names, dots into nested messages; a
        field at its default value is absent and reads as "", "0" or "false").
        Limits: unary write methods with a JSON request crmctl knows; one
        expected event per write, with the key as text in the event; a key is
        not written again until its event came (so writes to one key never
        race), and a key whose event was lost is not reused; the stream sees
        what the caller may read (crmd's own uid sees everything); arrival is
        stamped when crmctl reads the event, on a machine that also runs crmd.
        """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "A topic pattern to follow (repeatable), as for crmctl events.")
    var topic: [String] = []

    @Option(name: .long, help: "The event field that names the key: topic, record_id, entity, owner or payload.<path>.")
    var key = "record_id"

    @Option(name: .long, help: ArgumentHelp("Only events whose FIELD has VALUE count (repeatable).", valueName: "FIELD=VALUE"))
    var `where`: [String] = []

    @Option(name: .long, help: "The unary write method to call.")
    var method: String

    @Option(name: .long, help: "The request as JSON with \"$RANDOM\" for the key; repeat it for templates used in turn per key.")
    var json: [String] = []

    @Option(name: .long, help: "MIN:MAX, the keys \"$RANDOM\" takes.")
    var random: String

    @Option(name: .long, help: "Writes per second.")
    var rate: Double = 100

    @Option(name: .long, help: "Seconds of writes.")
    var duration: Double = 10

    @Option(name: .long, help: "Seconds to wait for a write's answer and for its event before it counts as lost.")
    var timeout: Double = 5

    @Option(name: .long, help: "Writes without an answer at once; the pace waits beyond that.")
    var maxInFlight = 256

    @Option(name: .long, help: "Start the stream after this event sequence (default: the newest committed event).")
    var after: UInt64?

    @Option(name: .long, help: "human or json.")
    var format = "human"

    func validate() throws {
        guard !topic.isEmpty else { throw ValidationError("give at least one --topic") }
        guard method.hasPrefix("/"), method.split(separator: "/").count == 2 else {
            throw ValidationError("--method must look like /package.Service/Method")
        }
        guard EventField(key) != nil else {
            throw ValidationError("--key must be topic, record_id, entity, owner or payload.<path>, got \(key)")
        }
        for filter in `where` where EventFilter(filter) == nil {
            throw ValidationError("--where must be FIELD=VALUE with FIELD as for --key, got \(filter)")
        }
        guard (1...16).contains(json.count) else { throw ValidationError("give --json 1 to 16 times") }
        for template in json where !template.contains("$RANDOM") {
            throw ValidationError("every --json needs \"$RANDOM\" (the key), got \(template)")
        }
        guard BenchRequests.randomRange(random) != nil else {
            throw ValidationError("--random must be MIN:MAX with MIN <= MAX")
        }
        guard rate > 0, rate <= 100_000 else { throw ValidationError("--rate must be in 0...100000 (above 0)") }
        guard duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be in 0...86400 (above 0)") }
        guard timeout > 0, timeout <= 3_600 else { throw ValidationError("--timeout must be in 0...3600 (above 0)") }
        guard (1...100_000).contains(maxInFlight) else { throw ValidationError("--max-in-flight must be 1...100000") }
        guard ["human", "json"].contains(format) else { throw ValidationError("--format is human or json") }
    }

    func run() async throws {
        try await runCalls {
            guard let range = BenchRequests.randomRange(random), let field = EventField(key) else { return }
            let client = try connection.connect()
            let type = try await BenchRequests.requestType(client, method: method)
            // Each template must fit the request type before the first write.
            for template in json {
                do { _ = try type.init(jsonString: template.replacingOccurrences(of: "$RANDOM", with: "\(range.lowerBound)")) } catch {
                    let why = JSONRequestCheck(type: type).explain(template, error)
                    throw RPCError(.invalidArgument, "--json is not valid for \(type.protoMessageName): \(why)")
                }
            }
            let config = BenchEventsRunner.Config(
                method: method, requestType: type, templates: json, keys: range, rate: rate, duration: duration,
                timeout: timeout, maxInFlight: maxInFlight, topics: topic,
                selector: EventSelector(key: field, filters: `where`.compactMap(EventFilter.init)))
            var start = after ?? 0
            if after == nil { start = try await EventSelector.newestSequence(client, topics: topic) }
            let report = try await BenchEventsRunner(config).run(
                writer: client, stream: try connection.connect(), afterSequence: start)
            print(format == "json" ? report.json() : report.human(config))
        }
    }
}
