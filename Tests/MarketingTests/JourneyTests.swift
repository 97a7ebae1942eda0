import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// A crmd with contacts and marketing, a template, and helpers to watch journeys run.
struct JourneyWorld {
    let crmd: CrmdProcess
    let contacts: ContactsClient
    let marketing: MarketingClient
    let database: DatabaseFile

    static func start(dataDir: String? = nil, environment: [String: String] = [:]) async throws -> JourneyWorld {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"], environment: environment, dataDir: dataDir)
        let connection = try crmd.connect()
        return JourneyWorld(crmd: crmd, contacts: ContactsClient(connection: connection),
                            marketing: MarketingClient(connection: connection),
                            database: DatabaseFile(dataDir: dataDir ?? crmd.dir + "/data"))
    }

    /// Waits until marketing's projection (filled from contacts' events) has `count` live people.
    func waitForPeople(_ count: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let ok = try await eventually { try await marketing.count(Rule.all()) == count }
        #expect(ok, "projection did not reach \(count) people", sourceLocation: sourceLocation)
    }

    func template() async throws -> Int64 { try await marketing.createTemplate("Welcome \(UUID())").id }

    func person(_ first: String, email: String = "") async throws -> Int64 {
        try await contacts.createPerson(first, "Tester", email: email.isEmpty ? "\(first.lowercased())@example.com" : email).id
    }

    func active(_ name: String, _ steps: [MJourneyStep], entrySegment: Int64 = 0, allowReentry: Bool = false,
                gapUs: Int64 = 0) async throws -> MJourney {
        let j = try await marketing.createJourney(name, steps: steps, entrySegment: entrySegment,
                                                  allowReentry: allowReentry, gapUs: gapUs)
        return try await marketing.journeyState("Activate", j.id)
    }

    /// Waits until the journey has `count` enrollments, all ended.
    func waitForCompleted(_ journey: Int64, _ count: Int, timeout: Double = 30,
                          sourceLocation: SourceLocation = #_sourceLocation) async throws -> [Crm_Marketing_V1_JourneyEnrollment] {
        var last: [Crm_Marketing_V1_JourneyEnrollment] = []
        let ok = try await eventually(timeout: timeout) {
            last = try await marketing.enrollments(journey)
            return last.count == count && last.allSatisfy { $0.state == .completed }
        }
        #expect(ok, "journey \(journey): \(last.count) enrollments, \(last.filter { $0.state == .completed }.count) completed",
                sourceLocation: sourceLocation)
        return last
    }
}

@Suite struct JourneyTests {
    @Test func createGetUpdateListAndEveryBadInput() async throws {
        let w = try await JourneyWorld.start()
        let t = try await w.template()
        let seg = try await w.marketing.createSegment("Entry", list: true)
        let steps = [Step.send("hello", template: t, next: "pause"), Step.wait("pause", us: 2_000_000)]
        let j = try await w.marketing.createJourney("Onboarding", steps: steps, entrySegment: seg.id, key: "k1")
        #expect(j.state == .draft && j.version == 1 && j.steps == steps && j.entrySegmentID == seg.id)
        #expect(try await w.marketing.createJourney("Onboarding", steps: steps, entrySegment: seg.id, key: "k1").id == j.id)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency") {
            try await w.marketing.createJourney("Other", steps: steps, key: "k1")
        }
        #expect(try await w.marketing.getJourney(j.id) == j)

        func bad(code: Crm_Rpc_V1_StatusCode = .invalidArgument, _ text: String, name: String = "J",
                 entry: Int64 = 0, reentry: Bool = false, gap: Int64 = 0, _ s: [MJourneyStep],
                 sourceLocation: SourceLocation = #_sourceLocation) async {
            await expectRPCError(code, mentioning: text, sourceLocation: sourceLocation) {
                try await w.marketing.createJourney(name, steps: s, entrySegment: entry, allowReentry: reentry, gapUs: gap)
            }
        }
        let tag = Step.tag("t", "vip")
        await bad("journey.name is required", name: " ", [tag])
        await bad("journey.name", name: String(repeating: "x", count: 201), [tag])
        await bad("journey.entry_segment_id", entry: -1, [tag])
        await bad(code: .notFound, "journey.entry_segment_id: segment 999 does not exist", entry: 999, [tag])
        await bad("journey.reentry_gap_us must not be negative", reentry: true, gap: -1, [tag])
        await bad("journey.reentry_gap_us is set but allow_reentry is not", gap: 5, [tag])
        await bad("journey.steps: a journey needs at least one step", [])
        await bad("journey.steps: at most 50 steps", (0..<51).map { Step.tag("t\($0)", "x", next: $0 < 50 ? "t\($0 + 1)" : "") })
        await bad("journey.steps[0].key must be", [Step.tag("Bad Key", "x")])
        await bad("journey.steps[1].key \"t\" is repeated", [Step.tag("t", "x", next: "t"), Step.tag("t", "y")])
        await bad("journey.steps[0] has no action", [.with { $0.key = "a" }])
        await bad("journey.steps[0].next: no step \"nope\"", [Step.tag("t", "x", next: "nope")])
        await bad("journey.steps[0].else_next: only branch and wait_for_engagement", [.with {
            $0.key = "t"; $0.tag.tag = "x"; $0.elseNext = "t"
        }])
        await bad("journey.steps[1]: \"u\" is not reachable", [Step.tag("t", "x"), Step.tag("u", "y")])
        await bad("makes a cycle", [Step.wait("a", us: 1_000_000, next: "b"), Step.tag("b", "x", next: "a")])
        await bad(code: .notFound, "journey.steps[0].send.template_id: template 999 does not exist", [Step.send("s", template: 999)])
        await bad("journey.steps[0].send.template_id", [Step.send("s", template: 0)])
        await bad("journey.steps[0].wait: set exactly one", [Step.wait("w")])
        await bad("journey.steps[0].wait: set exactly one", [Step.wait("w", us: 1_000_000, until: 5)])
        await bad("journey.steps[0].wait.duration_us must be 1 s to 366 days", [Step.wait("w", us: 999_999)])
        await bad("journey.steps[0].wait.until_unix_us must not be negative", [Step.wait("w", until: -1)])
        await bad("journey.steps[0].wait_for_engagement.send_step must name a send step",
                  [Step.waitFor("w", sendStep: "s", timeoutUs: 1_000_000)])
        await bad("journey.steps[1].wait_for_engagement.kind must be", [Step.send("s", template: t, next: "w"),
                  Step.waitFor("w", sendStep: "s", kind: .bounced, timeoutUs: 1_000_000)])
        await bad("journey.steps[1].wait_for_engagement.timeout_us", [Step.send("s", template: t, next: "w"),
                  Step.waitFor("w", sendStep: "s", timeoutUs: 10)])
        await bad("journey.steps[0].branch.segment_id must not be negative", [Step.branch("b", segment: -2)])
        await bad(code: .notFound, "journey.steps[0].branch.segment_id: segment 777", [Step.branch("b", segment: 777)])
        await bad("journey.steps[0].branch.send_step", [Step.branch("b", segment: 0)])
        await bad("journey.steps[0].tag.tag must be 1 to 100", [Step.tag("t", "")])
        await bad("journey.steps[0].tag.tag must be 1 to 100", [Step.tag("t", " vip")])
        await bad("journey.steps[0].update_field.field must be", [Step.setText("f", field: "first_name", "x")])
        await bad("journey.steps[0].update_field.value: job_title takes value.text", [.with {
            $0.key = "f"; $0.updateField.field = "job_title"; $0.updateField.value.number = "1"
        }])
        await bad("journey.steps[0].update_field.value is required", [.with { $0.key = "f"; $0.updateField.field = "custom.x" }])

        // Update: masked fields; steps only while DRAFT.
        let renamed = try await w.marketing.updateJourney(j.id, mask: ["name", "steps"], expectedVersion: 1) {
            $0.name = "Onboarding 2"
            $0.steps = [Step.tag("only", "new")]
        }
        #expect(renamed.name == "Onboarding 2" && renamed.version == 2 && renamed.steps.map(\.key) == ["only"])
        await expectRPCError(.aborted, mentioning: "expected_version") {
            try await w.marketing.updateJourney(j.id, mask: ["name"], expectedVersion: 1) { $0.name = "x" }
        }
        await expectRPCError(.invalidArgument, mentioning: "update_mask") {
            try await w.marketing.updateJourney(j.id, mask: ["state"]) { $0.state = .active }
        }
        await expectRPCError(.invalidArgument, mentioning: "journey.steps[0].next") {
            try await w.marketing.updateJourney(j.id, mask: ["steps"]) { $0.steps = [Step.tag("a", "b", next: "zz")] }
        }
        await expectRPCError(.notFound, mentioning: "journey.id: journey 4242 does not exist") {
            try await w.marketing.updateJourney(4242, mask: ["name"]) { $0.name = "x" }
        }
        #expect(try await w.marketing.updateJourney(j.id, mask: ["name"]) { $0.name = "Onboarding 2" }.version == 2)

        // States.
        await expectRPCError(.failedPrecondition, mentioning: "cannot pause") { try await w.marketing.journeyState("Pause", j.id) }
        let active = try await w.marketing.journeyState("Activate", j.id)
        #expect(active.state == .active)
        await expectRPCError(.failedPrecondition, mentioning: "cannot activate") { try await w.marketing.journeyState("Activate", j.id) }
        await expectRPCError(.failedPrecondition, mentioning: "journey.steps: only a DRAFT journey's steps change") {
            try await w.marketing.updateJourney(j.id, mask: ["steps"]) { $0.steps = [Step.tag("a", "b")] }
        }
        #expect(try await w.marketing.updateJourney(j.id, mask: ["description"]) { $0.description_p = "d" }.description_p == "d")
        #expect(try await w.marketing.journeyState("Pause", j.id).state == .paused)
        #expect(try await w.marketing.journeyState("Activate", j.id).state == .active)
        await expectRPCError(.aborted, mentioning: "expected_version") { try await w.marketing.journeyState("Archive", j.id, expectedVersion: 1) }
        #expect(try await w.marketing.journeyState("Archive", j.id).state == .archived)
        await expectRPCError(.failedPrecondition, mentioning: "cannot archive") { try await w.marketing.journeyState("Archive", j.id) }
        await expectRPCError(.failedPrecondition, mentioning: "archived") {
            try await w.marketing.updateJourney(j.id, mask: ["name"]) { $0.name = "x" }
        }
        await expectRPCError(.notFound, mentioning: "id: journey 999") { try await w.marketing.journeyState("Activate", 999) }
        await expectRPCError(.invalidArgument, mentioning: "id") { try await w.marketing.getJourney(0) }
        await expectRPCError(.notFound, mentioning: "journey 31337") { try await w.marketing.getJourney(31337) }

        // Lists paginate.
        for i in 0..<3 { _ = try await w.marketing.createJourney("More \(i)", steps: [tag]) }
        let first = try await w.marketing.listJourneys(pageSize: 2)
        #expect(first.journeys.count == 2 && !first.nextPageToken.isEmpty)
        let rest = try await w.marketing.listJourneys(pageSize: 2, token: first.nextPageToken)
        #expect(rest.journeys.count == 2 && rest.nextPageToken.isEmpty)
        #expect(try await w.marketing.listJourneys(state: .archived).journeys.map(\.id) == [j.id])
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await w.marketing.listJourneys(token: "nope") }
        await expectRPCError(.invalidArgument, mentioning: "state") {
            try await w.marketing.listJourneys(state: .UNRECOGNIZED(9))
        }
    }

    @Test func enrollRunsSendWaitTagAndUpdateFieldOnceAndRefusesReentry() async throws {
        let w = try await JourneyWorld.start()
        let t = try await w.template()
        let ann = try await w.person("Ann")
        let draft = try await w.marketing.createJourney("Draft", steps: [Step.tag("t", "x")])
        await expectRPCError(.failedPrecondition, mentioning: "not ACTIVE") { try await w.marketing.enroll(draft.id, ann) }
        let j = try await w.active("Welcome", [Step.send("mail", template: t, next: "pause"),
                                               Step.wait("pause", us: 2_000_000, next: "vip"),
                                               Step.tag("vip", "journey-vip", next: "title"),
                                               Step.setText("title", field: "job_title", "Champion")])
        await expectRPCError(.invalidArgument, mentioning: "person_id") { try await w.marketing.enroll(j.id, 0) }
        await expectRPCError(.notFound, mentioning: "person_id: person 9999") { try await w.marketing.enroll(j.id, 9999) }
        await expectRPCError(.notFound, mentioning: "journey_id: journey 9999") { try await w.marketing.enroll(9999, ann) }
        let started = Date()
        let e = try await w.marketing.enroll(j.id, ann, key: "e1")
        #expect(e.state == .active && e.currentStep == "mail" && e.personID == ann)
        #expect(try await w.marketing.enroll(j.id, ann, key: "e1").id == e.id)
        await expectRPCError(.failedPrecondition, mentioning: "is in journey \(j.id) now") { try await w.marketing.enroll(j.id, ann) }

        // The wait holds the person: after the send, at "pause" with a due time about 2 s on.
        var held: Crm_Marketing_V1_JourneyEnrollment?
        #expect(try await eventually(timeout: 5) {
            held = try await w.marketing.enrollments(j.id).first
            return held?.currentStep == "pause" && (held?.dueUnixUs ?? 0) > 0
        })
        let log1 = try await w.marketing.stepLog(j.id)
        #expect(log1.map(\.step) == ["mail"] && log1[0].outcome == "sent" && log1[0].outboxID > 0)
        #expect(try await w.contacts.getPerson(ann).tags.isEmpty)
        let done = try await w.waitForCompleted(j.id, 1)
        #expect(Date().timeIntervalSince(started) >= 2)
        #expect(done[0].currentStep == "" && done[0].endedUnixUs > 0)
        let log = try await w.marketing.stepLog(j.id)
        #expect(log.map(\.step) == ["mail", "pause", "vip", "title"])
        #expect(log.map(\.outcome) == ["sent", "waited", "tagged", "updated"])
        #expect(log[1].atUnixUs - log[0].atUnixUs >= 2_000_000)
        let after = try await w.contacts.getPerson(ann)
        #expect(after.tags.filter { $0 == "journey-vip" }.count == 1 && after.jobTitle == "Champion")
        #expect(after.version == 3)  // created, tagged, title: each change once
        await expectRPCError(.failedPrecondition, mentioning: "allows no re-entry") { try await w.marketing.enroll(j.id, ann) }
    }

    @Test func enteringTheEntrySegmentEnrollsOnceAndBranchTakesTheRightExit() async throws {
        let w = try await JourneyWorld.start()
        let entry = try await w.marketing.createSegment("Entry", list: true)
        let vips = try await w.marketing.createSegment("VIPs", list: true)
        let j = try await w.active("Split", [Step.branch("is_vip", segment: vips.id, next: "yes", elseNext: "no"),
                                             Step.tag("yes", "went-yes"), Step.tag("no", "went-no")],
                                   entrySegment: entry.id)
        let ann = try await w.person("Ann"), bob = try await w.person("Bob")
        try await w.waitForPeople(2)
        _ = try await w.marketing.addMembers(vips.id, [ann])
        _ = try await w.marketing.addMembers(entry.id, [ann, bob])
        _ = try await w.waitForCompleted(j.id, 2)
        #expect(try await w.contacts.getPerson(ann).tags == ["went-yes"])
        #expect(try await w.contacts.getPerson(bob).tags == ["went-no"])
        let outcomes = try await w.marketing.stepLog(j.id, person: ann).map { "\($0.step) \($0.outcome) \($0.nextStep)" }
        #expect(outcomes == ["is_vip yes yes", "yes tagged "])
        // Leaving and entering again: this journey allows no re-entry.
        _ = try await w.marketing.removeMembers(entry.id, [ann])
        _ = try await w.marketing.addMembers(entry.id, [ann])
        try await Task.sleep(for: .milliseconds(800))
        #expect(try await w.marketing.enrollments(j.id).count == 2)
        // Paused: no one enters.
        _ = try await w.marketing.journeyState("Pause", j.id)
        let cy = try await w.person("Cy")
        try await w.waitForPeople(3)
        _ = try await w.marketing.addMembers(entry.id, [cy])
        #expect(try await w.marketing.enrollments(j.id, person: cy).isEmpty)
    }

    @Test func engagementWaitTakesTheTimeoutExit() async throws {
        let w = try await JourneyWorld.start()
        let t = try await w.template()
        let j = try await w.active("Nudge", [Step.send("mail", template: t, next: "wait_open"),
                                             Step.waitFor("wait_open", sendStep: "mail", kind: .opened, timeoutUs: 1_500_000,
                                                          next: "opened", elseNext: "nudge"),
                                             Step.tag("opened", "opened"), Step.tag("nudge", "no-open")])
        let ann = try await w.person("Ann")
        _ = try await w.marketing.enroll(j.id, ann)
        _ = try await w.waitForCompleted(j.id, 1)
        let log = try await w.marketing.stepLog(j.id)
        #expect(log.map { "\($0.step) \($0.outcome)" } == ["mail sent", "wait_open timed_out", "nudge tagged"])
        #expect(log[1].atUnixUs - log[0].atUnixUs >= 1_500_000)
        #expect(try await w.contacts.getPerson(ann).tags == ["no-open"])
    }

    @Test func reentryIsAllowedOnlyAfterTheGap() async throws {
        let w = try await JourneyWorld.start()
        let j = try await w.active("Again", [Step.setText("src", field: "source", "journey")],
                                   allowReentry: true, gapUs: 2_000_000)
        let ann = try await w.person("Ann")
        _ = try await w.marketing.enroll(j.id, ann)
        _ = try await w.waitForCompleted(j.id, 1)
        await expectRPCError(.failedPrecondition, mentioning: "less than reentry_gap_us") { try await w.marketing.enroll(j.id, ann) }
        try await Task.sleep(for: .milliseconds(2_100))
        _ = try await w.marketing.enroll(j.id, ann)
        let both = try await w.waitForCompleted(j.id, 2)
        #expect(Set(both.map(\.personID)) == [ann])
        // The second pass found the field set already: contacts changed it once.
        #expect(try await w.marketing.stepLog(j.id).map(\.outcome) == ["updated", "unchanged"])
        #expect(try await w.contacts.getPerson(ann).version == 2)
    }

    @Test func mergedPeoplesEnrollmentsFollowTheSurvivor() async throws {
        let w = try await JourneyWorld.start()
        let j = try await w.active("Slow", [Step.wait("hold", us: 60_000_000)])
        let other = try await w.active("Other", [Step.wait("hold", us: 60_000_000)])
        let quick = try await w.active("Quick", [Step.tag("t", "quick")])
        let ann = try await w.person("Ann"), bob = try await w.person("Bob")
        let annIn = try await w.marketing.enroll(j.id, ann)
        let bobIn = try await w.marketing.enroll(j.id, bob)
        let bobOther = try await w.marketing.enroll(other.id, bob)
        _ = try await w.marketing.enroll(quick.id, bob)
        _ = try await w.waitForCompleted(quick.id, 1)
        _ = try await w.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ann
            $0.mergedID = bob
        }, as: CPerson.self)
        // Ann was in "Slow" already: Bob's enrollment there ends; his "Other" one moves to Ann.
        #expect(try await eventually(timeout: 10) {
            try await w.marketing.enrollments(j.id).first { $0.id == bobIn.id }?.state == .exited
        })
        let slow = try await w.marketing.enrollments(j.id)
        #expect(slow.map(\.personID) == [ann, ann] && slow.first { $0.id == annIn.id }?.state == .active)
        let moved = try await w.marketing.enrollments(other.id)
        #expect(moved.map(\.id) == [bobOther.id] && moved[0].personID == ann && moved[0].state == .active)
        // The step log goes with them, and the ended enrollment says why on the survivor's timeline.
        #expect(try await w.marketing.stepLog(quick.id).map(\.personID) == [ann])
        #expect(try await w.marketing.enrollments(quick.id).map(\.personID) == [ann])
        var exited: [Crm_Contacts_V1_TimelineEntry] = []
        #expect(try await eventually {
            exited = try await w.contacts.timeline(person: ann, pageSize: 500).entries.filter { $0.topic == "marketing.journey.exited" }
            return !exited.isEmpty
        })
        #expect(exited.count == 1 && exited[0].summary.contains("Left journey \"Slow\""), "\(exited.map(\.summary))")
    }

    @Test func enrollmentAndStepLogListsCheckTheirInputs() async throws {
        let w = try await JourneyWorld.start()
        let j = try await w.active("Lists", [Step.tag("t", "x")])
        func enrollments(_ r: Crm_Marketing_V1_ListJourneyEnrollmentsRequest) async throws -> Crm_Marketing_V1_ListJourneyEnrollmentsResponse {
            try await w.marketing.call("ListJourneyEnrollments", r)
        }
        func log(_ r: Crm_Marketing_V1_ListJourneyStepLogRequest) async throws -> Crm_Marketing_V1_ListJourneyStepLogResponse {
            try await w.marketing.call("ListJourneyStepLog", r)
        }
        await expectRPCError(.invalidArgument, mentioning: "journey_id is required") { try await enrollments(.with { _ in }) }
        await expectRPCError(.notFound, mentioning: "journey_id: journey 99") { try await enrollments(.with { $0.journeyID = 99 }) }
        await expectRPCError(.invalidArgument, mentioning: "person_id") {
            try await enrollments(.with { $0.journeyID = j.id; $0.personID = -1 })
        }
        await expectRPCError(.invalidArgument, mentioning: "state") {
            try await enrollments(.with { $0.journeyID = j.id; $0.state = .UNRECOGNIZED(7) })
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token") {
            try await enrollments(.with { $0.journeyID = j.id; $0.pageToken = "x" })
        }
        await expectRPCError(.invalidArgument, mentioning: "journey_id is required") { try await log(.with { _ in }) }
        await expectRPCError(.notFound, mentioning: "journey_id: journey 99") { try await log(.with { $0.journeyID = 99 }) }
        await expectRPCError(.invalidArgument, mentioning: "enrollment_id") { try await log(.with { $0.journeyID = j.id; $0.enrollmentID = -1 }) }
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await log(.with { $0.journeyID = j.id; $0.pageSize = -1 }) }
        await expectRPCError(.invalidArgument, mentioning: "limit must be 0 to 500") {
            try await w.marketing.call("AdvanceJourneys", Crm_Marketing_V1_AdvanceJourneysRequest.with { $0.limit = 501 },
                                       as: Crm_Marketing_V1_AdvanceJourneysResponse.self)
        }
        // Three people, pages of two, filtered by state.
        for name in ["A", "B", "C"] { _ = try await w.marketing.enroll(j.id, try await w.person(name)) }
        _ = try await w.waitForCompleted(j.id, 3)
        let first = try await enrollments(.with { $0.journeyID = j.id; $0.pageSize = 2 })
        #expect(first.enrollments.count == 2 && !first.nextPageToken.isEmpty)
        let second = try await enrollments(.with { $0.journeyID = j.id; $0.pageSize = 2; $0.pageToken = first.nextPageToken })
        #expect(second.enrollments.count == 1 && second.nextPageToken.isEmpty)
        #expect(try await enrollments(.with { $0.journeyID = j.id; $0.state = .active }).enrollments.isEmpty)
        let page = try await log(.with { $0.journeyID = j.id; $0.pageSize = 2 })
        #expect(page.entries.count == 2 && !page.nextPageToken.isEmpty)
    }
}
