import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

@Suite struct JourneyRestartTests {
    /// 500 people pass send, tag, wait and update-field steps; crmd is
    /// killed (SIGKILL) while they do and started again on the same data:
    /// each person passed each step once.
    @Test func killedMidRunEachPersonPassesEachStepOnce() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let count = 500
        var w = try await JourneyWorld.start(dataDir: dataDir)
        let t = try await w.template()
        let entry = try await w.marketing.createSegment("Entry", list: true)
        let j = try await w.active("Crash", [Step.send("mail", template: t, next: "tag"), Step.tag("tag", "k9", next: "pause"),
                                             Step.wait("pause", us: 1_000_000, next: "title"),
                                             Step.setText("title", field: "job_title", "Survivor")],
                                   entrySegment: entry.id)
        var people: [Int64] = []
        for i in 0..<count { people.append(try await w.person("P\(i)", email: "p\(i)@example.com")) }
        try await w.waitForPeople(Int64(count))
        _ = try await w.marketing.addMembers(entry.id, people)
        var seen = 0
        let started = try await eventually(timeout: 30) {
            seen = try await w.marketing.stepLog(j.id).count
            return seen >= 300
        }
        #expect(started)
        _ = try w.crmd.stop(signal: SIGKILL)
        print("journey kill: \(seen) of \(count * 4) steps logged before SIGKILL")
        #expect(seen < count * 4, "the run was over before the kill")

        w = try await JourneyWorld.start(dataDir: dataDir)
        let done = try await w.waitForCompleted(j.id, count, timeout: 60)
        #expect(Set(done.map(\.personID)) == Set(people))
        let log = try await w.marketing.stepLog(j.id)
        #expect(log.count == count * 4)
        #expect(Set(log.map { "\($0.enrollmentID) \($0.step)" }).count == count * 4)
        let sends = log.filter { $0.step == "mail" }
        #expect(sends.allSatisfy { $0.outcome == "sent" && $0.outboxID > 0 })
        #expect(Set(sends.map(\.outboxID)).count == count)
        #expect(log.filter { $0.step == "tag" }.allSatisfy { $0.outcome == "tagged" })
        for id in people {
            let p = try await w.contacts.getPerson(id)
            // Created, tagged, retitled: a replayed step would have changed it again.
            #expect(p.tags == ["k9"] && p.jobTitle == "Survivor" && p.version == 3, "person \(id)")
        }
    }
}
