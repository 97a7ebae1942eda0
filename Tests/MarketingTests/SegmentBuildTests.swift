import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// A segment's membership computed whole in chunks of people, each its own
/// transaction (a chunk of 100 here, so 250 people take three).
@Suite struct SegmentBuildTests {
    static let chunk = 100

    func start() async throws -> SegmentWorld {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"],
                                   environment: ["CRM_PLUGIN_MARKETING_SEGMENT_BUILD_CHUNK": String(Self.chunk)])
        let connection = try crmd.connect()
        return SegmentWorld(crmd: crmd, contacts: ContactsClient(connection: connection),
                            marketing: MarketingClient(connection: connection))
    }

    /// 250 people; every other one tagged x, every fifth tagged y.
    func seed(_ w: SegmentWorld) async throws -> [Int64] {
        var ids: [Int64] = []
        for i in 0..<250 {
            let tags = (i % 2 == 0 ? ["x"] : []) + (i % 5 == 0 ? ["y"] : [])
            ids.append(try await w.contacts.createPerson("P\(i)", "Chunk", tags: tags).id)
        }
        try await w.waitForPeople(250)
        return ids
    }

    /// The stored marketing.segment.built events of `segment`.
    func builtEvents(_ w: SegmentWorld, _ segment: Int64) async throws -> [Crm_Marketing_V1_SegmentBuiltEvent] {
        let request = Crm_Kernel_V1_SubscribeRequest.with {
            $0.topicPatterns = ["marketing.segment.built"]
            $0.replayOnly = true
        }
        var out: [Crm_Marketing_V1_SegmentBuiltEvent] = []
        for try await event in try w.contacts.connection.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
            let built = try Crm_Marketing_V1_SegmentBuiltEvent(serializedBytes: event.payload)
            if built.segmentID == segment { out.append(built) }
        }
        return out
    }

    func waitUntilBuilt(_ w: SegmentWorld, _ segment: Int64) async throws -> Crm_Marketing_V1_Segment {
        var last = Crm_Marketing_V1_Segment()
        let ok = try await eventually {
            last = try await w.marketing.getSegment(segment)
            return last.build.state == .built
        }
        #expect(ok, "segment \(segment) still \(last.build)")
        return last
    }

    @Test func aNewSegmentIsBuiltInChunksByTheJobAndAnnouncesOneBuildNotEachMember() async throws {
        let w = try await start()
        let ids = try await seed(w)
        let tagged = Set(ids.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        let created = try await w.marketing.createSegment("Chunked", rule: Rule.when("tag", .equals, "x"))
        // The create did the first chunk only: the first 100 people by id.
        #expect(created.build.state == .building)
        #expect(created.build.checked == Int64(Self.chunk))
        #expect(created.build.announcesChanges == false)
        #expect(created.memberCount == 50)
        let built = try await waitUntilBuilt(w, created.id)
        #expect(built.build.checked == 250)
        #expect(built.build.added == 125 && built.build.removed == 0)
        #expect(built.memberCount == 125)
        #expect(built.rebuiltUnixUs >= created.build.startedUnixUs)
        #expect(Set(try await w.marketing.members(created.id)) == tagged)
        // No one "entered" a segment that began: one summary instead.
        #expect(try await w.membershipEvents().filter { $0.split(separator: " ")[1] == "\(created.id)" }.isEmpty)
        let events = try await builtEvents(w, created.id)
        #expect(events.count == 1)
        #expect(events.first?.firstBuild == true && events.first?.added == 125 && events.first?.memberCount == 125)
        #expect(events.first?.segmentName == "Chunked")
    }

    @Test func aRuleChangeRebuildsInChunksAnnouncingExactlyWhoEnteredAndLeft() async throws {
        let w = try await start()
        let ids = try await seed(w)
        let created = try await w.marketing.createSegment("Changing", rule: Rule.when("tag", .equals, "x"))
        let first = try await waitUntilBuilt(w, created.id)
        let updated: Crm_Marketing_V1_Segment = try await w.marketing.call("UpdateSegment", Crm_Marketing_V1_UpdateSegmentRequest.with {
            $0.segment.id = created.id
            $0.segment.rule = Rule.when("tag", .equals, "y")
            $0.expectedVersion = first.version
        })
        #expect(updated.build.state == .building && updated.build.announcesChanges)
        let rebuilt = try await waitUntilBuilt(w, created.id)
        let x = Set(ids.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        let y = Set(ids.enumerated().filter { $0.offset % 5 == 0 }.map(\.element))
        #expect(Set(try await w.marketing.members(created.id)) == y)
        #expect(rebuilt.memberCount == Int64(y.count))
        let events = try await w.membershipEvents().filter { $0.split(separator: " ")[1] == "\(created.id)" }
        let entered = Set(events.filter { $0.hasPrefix("entered ") }.compactMap { Int64($0.split(separator: " ")[2]) })
        let left = Set(events.filter { $0.hasPrefix("left ") }.compactMap { Int64($0.split(separator: " ")[2]) })
        #expect(entered == y.subtracting(x))
        #expect(left == x.subtracting(y))
        #expect(events.count == entered.count + left.count)  // each once
        let summaries = try await builtEvents(w, created.id)
        #expect(summaries.map(\.firstBuild) == [true, false])
        #expect(summaries.last?.added == Int64(entered.count) && summaries.last?.removed == Int64(left.count))
    }

    @Test func rebuildSegmentAnswersWhenEveryChunkIsDone() async throws {
        let w = try await start()
        let ids = try await seed(w)
        let segment = try await w.marketing.createSegment("Again", rule: Rule.when("tag", .equals, "y"))
        _ = try await waitUntilBuilt(w, segment.id)
        let rebuilt = try await w.marketing.rebuild(segment.id)
        // Three chunks, some perhaps done by the job, which advances any build under way.
        #expect((1...3).contains(rebuilt.chunks))
        #expect(rebuilt.added == 0 && rebuilt.removed == 0)
        #expect(rebuilt.memberCount == Int64(ids.enumerated().filter { $0.offset % 5 == 0 }.count))
        let after = try await w.marketing.getSegment(segment.id)
        #expect(after.build.state == .built && after.build.checked == 250 && after.build.announcesChanges)
        #expect(try await builtEvents(w, segment.id).map(\.firstBuild) == [true, false])
    }

    @Test func advanceSegmentBuildRefusesBadInput() async throws {
        let w = try await start()
        let m = w.marketing
        func advance(_ id: Int64) async throws -> Crm_Marketing_V1_AdvanceSegmentBuildResponse {
            try await m.call("AdvanceSegmentBuild", Crm_Marketing_V1_AdvanceSegmentBuildRequest.with { $0.segmentID = id })
        }
        await expectRPCError(.invalidArgument, mentioning: "segment_id") { try await advance(0) }
        await expectRPCError(.invalidArgument, mentioning: "segment_id") { try await advance(-3) }
        await expectRPCError(.notFound, mentioning: "segment_id: segment 999 does not exist") { try await advance(999) }
        let list = try await m.createSegment("A list", list: true)
        await expectRPCError(.failedPrecondition, mentioning: "is a LIST") { try await advance(list.id) }
        // A built segment has nothing to do: a repeat changes nothing.
        let rule = try await m.createSegment("Tiny", rule: Rule.when("tag", .isSet))
        #expect(rule.build.state == .built)
        let again = try await advance(rule.id)
        #expect(again.build.state == .built && again.memberCount == 0)
    }
}
