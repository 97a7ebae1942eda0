import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Journeys through what happens to people: their events on the timeline,
/// the GDPR export, erasure, and a visit that fails without taking the
/// others with it.
@Suite struct JourneyPeopleTests {
    func timelineTopics(_ w: JourneyWorld, _ person: Int64) async throws -> [String] {
        try await w.contacts.timeline(person: person, pageSize: 500).entries.map(\.topic).filter { $0.hasPrefix("marketing.journey.") }
    }

    @Test func journeyEventsLandOnTheTimelineAndTheExportListsEnrollmentsAndSteps() async throws {
        let w = try await JourneyWorld.start()
        let j = try await w.active("Welcome", [Step.tag("vip", "journey-vip", next: "title"),
                                               Step.setText("title", field: "job_title", "Member")])
        let ann = try await w.person("Ann")
        let e = try await w.marketing.enroll(j.id, ann)
        _ = try await w.waitForCompleted(j.id, 1)
        var topics: [String] = []
        #expect(try await eventually {
            topics = try await timelineTopics(w, ann)
            return topics.count == 2
        })
        #expect(Set(topics) == ["marketing.journey.entered", "marketing.journey.completed"], "\(topics)")
        let summaries = try await w.contacts.timeline(person: ann, pageSize: 500).entries
            .filter { $0.topic.hasPrefix("marketing.journey.") }.map(\.summary)
        #expect(Set(summaries) == ["Entered journey \"Welcome\"", "Completed journey \"Welcome\""], "\(summaries)")

        let export: Crm_Contacts_V1_PersonDataExport = try await w.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = ann })
        let records = try #require(export.modules.first { $0.module == "marketing" }).records
        let enrollments = try records.filter { $0.typeName == "crm.marketing.v1.JourneyEnrollment" }
            .map { try Crm_Marketing_V1_JourneyEnrollment(serializedBytes: $0.payload) }
        #expect(enrollments.map(\.id) == [e.id] && enrollments[0].journeyID == j.id && enrollments[0].state == .completed)
        let steps = try records.filter { $0.typeName == "crm.marketing.v1.JourneyStepLogEntry" }
            .map { try Crm_Marketing_V1_JourneyStepLogEntry(serializedBytes: $0.payload) }
        #expect(steps.map { "\($0.step) \($0.outcome)" } == ["vip tagged", "title updated"])
    }

    @Test func erasureDeletesThePersonsJourneysAndEmptiesTheirEvents() async throws {
        let w = try await JourneyWorld.start()
        let slow = try await w.active("Slow", [Step.wait("hold", us: 60_000_000)])
        let quick = try await w.active("Quick", [Step.tag("t", "quick")])
        let eve = try await w.person("Eve"), kim = try await w.person("Kim")
        let held = try await w.marketing.enroll(slow.id, eve)
        let done = try await w.marketing.enroll(quick.id, eve)
        _ = try await w.marketing.enroll(quick.id, kim)
        _ = try await w.waitForCompleted(quick.id, 2)
        #expect(try await eventually { try await timelineTopics(w, eve).count == 3 })

        let _: Crm_Contacts_V1_ErasePersonResponse = try await w.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = eve; $0.reason = "GDPR request 3" })
        #expect(try await eventually {
            try w.database.rows("SELECT count(*) FROM marketing_journey_enrollments WHERE person_id = \(eve)") == [["0"]]
        })
        #expect(try w.database.rows("SELECT count(*) FROM marketing_journey_step_log WHERE person_id = \(eve)") == [["0"]])
        #expect(try await w.marketing.enrollments(slow.id).isEmpty)
        #expect(try await w.marketing.stepLog(quick.id).map(\.personID) == [kim])
        // Every event and audit entry about Eve's enrollments is emptied; Kim's are not.
        let records = "'\(held.id)', '\(done.id)'"
        let events = try w.database.rows("""
            SELECT topic, redacted, length(payload) FROM kernel_outbox
            WHERE entity = 'marketing.journey_enrollment' AND record_id IN (\(records)) ORDER BY sequence
            """)
        #expect(events.map(\.[0]) == ["marketing.journey.entered", "marketing.journey.entered", "marketing.journey.completed"],
                "\(events)")
        #expect(events.allSatisfy { $0[1] == "1" && $0[2] == "0" }, "\(events)")
        #expect(try w.database.rows("""
            SELECT DISTINCT redacted FROM kernel_audit WHERE entity = 'marketing.journey_enrollment' AND record_id IN (\(records))
            """) == [["1"]])
        #expect(try w.database.rows("""
            SELECT count(*) FROM kernel_outbox WHERE entity = 'marketing.journey_enrollment' AND redacted = 0
            """) == [["2"]])
    }

    /// A journey whose stored steps no longer decode (a Swift error, not a
    /// PluginError) shares a batch with 20 good visits: the good ones pass,
    /// the bad one is logged failed and exits, and the batch is not retried
    /// forever.
    @Test func aVisitThatThrowsIsLoggedFailedAndTheRestOfItsBatchPasses() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var w = try await JourneyWorld.start(dataDir: dataDir)
        let good = try await w.active("Good", [Step.wait("pause", us: 1_000_000, next: "tag"), Step.tag("tag", "good")])
        let bad = try await w.active("Bad", [Step.wait("pause", us: 1_000_000, next: "tag"), Step.tag("tag", "bad")])
        var people: [Int64] = []
        for i in 0..<20 {
            let p = try await w.person("G\(i)")
            _ = try await w.marketing.enroll(good.id, p)
            people.append(p)
        }
        let cy = try await w.person("Cy")
        let cyIn = try await w.marketing.enroll(bad.id, cy)
        // Stopped while everyone waits; the bad journey's steps are garbage when it starts again.
        _ = try w.crmd.stop()
        try w.database.execute("UPDATE marketing_journeys SET steps = x'ffff' WHERE id = \(bad.id)")
        w = try await JourneyWorld.start(dataDir: dataDir)
        let done = try await w.waitForCompleted(good.id, 20)
        #expect(Set(done.map(\.personID)) == Set(people))
        for p in people { #expect(try await w.contacts.getPerson(p).tags == ["good"]) }
        var cyRow: [[String]] = []
        #expect(try await eventually {
            cyRow = try w.database.rows("SELECT state, current_step FROM marketing_journey_enrollments WHERE id = \(cyIn.id)")
            return cyRow == [["3", ""]]
        }, "\(cyRow)")
        let log = try w.database.rows("""
            SELECT step, outcome, detail, next_step FROM marketing_journey_step_log WHERE enrollment_id = \(cyIn.id)
            """)
        #expect(log.count == 1 && log[0][0] == "pause" && log[0][1] == "failed" && log[0][3] == "", "\(log)")
        #expect(log.first?[2].contains("internal") == true, "\(log)")
        #expect(try await w.contacts.getPerson(cy).tags.isEmpty)
        #expect(try await eventually {
            Set(try await timelineTopics(w, cy)) == ["marketing.journey.entered", "marketing.journey.step_failed",
                                                    "marketing.journey.exited"]
        })
        // The underlying error is in crmd's log, not in the answer.
        #expect(w.crmd.log.contains("AdvanceJourneyVisits failed"))
    }
}
