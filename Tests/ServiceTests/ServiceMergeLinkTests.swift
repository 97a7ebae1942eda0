import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Merging tickets and linking them.
@Suite struct ServiceMergeLinkTests {
    @Test func aMergeMovesTheConversationToTheSurvivorAndMergesOfMergesResolve() async throws {
        let world = try await ServiceWorld.start()
        let admin = world.admin
        let ada = try await world.person("Ada", "Lovelace")
        let a = try await admin.create("Mail bounces", requester: ada, tags: ["mail"], followers: ["ana"])
        let b = try await admin.create("Mail bounces again", requester: ada, tags: ["smtp"])
        let c = try await admin.create("Mail broken", requester: ada)
        try await admin.reply(a.id, "first on a", author: .customer)
        try await admin.reply(a.id, "second on a")
        try await admin.reply(b.id, "on b", author: .customer)
        let ab = try await admin.merge(a.id, into: b.id, key: "m-1")
        #expect(ab.survivor.id == b.id && ab.messagesMoved == 2)
        #expect(ab.merged.status == .closed && ab.merged.mergedIntoID == b.id)
        #expect(ab.survivor.tags == ["mail", "smtp"] && ab.survivor.followers == ["ana"])
        let onB = try await admin.messages(b.id).messages
        #expect(onB.map(\.body) == ["first on a", "second on a", "on b"])
        #expect(onB.map(\.originalTicketID) == [a.id, a.id, b.id])
        #expect(try await admin.merge(a.id, into: b.id, key: "m-1").survivor.id == b.id, "a retry answers the first merge")

        _ = try await admin.merge(b.id, into: c.id)
        #expect(try await admin.get(a.id).mergedIntoID == c.id, "a ticket merged into a merged one points at the last survivor")
        let d = try await admin.create("Mail!", requester: ada)
        let dIntoA = try await admin.merge(d.id, into: a.id)
        #expect(dIntoA.survivor.id == c.id, "a merge into a merged ticket lands on its survivor")
        let late = try await admin.reply(a.id, "is anyone there?", author: .customer)
        #expect(late.ticket.id == c.id && late.message.originalTicketID == c.id)
        #expect(try await admin.messages(c.id).messages.count == 4)
        #expect(try await admin.queueIDs() == [c.id], "merged tickets leave the unsolved queue")
        #expect(Set(try await admin.queueIDs { $0.view = .closed }) == [a.id, b.id, d.id])

        await expectRPCError(.failedPrecondition, mentioning: "source_id: ticket \(a.id) was already merged into ticket \(c.id)") {
            try await admin.merge(a.id, into: c.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "was merged into ticket \(c.id), the source itself") {
            try await admin.merge(c.id, into: a.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "a ticket cannot merge into itself") { try await admin.merge(c.id, into: c.id) }
        await expectRPCError(.notFound, mentioning: "target_id: ticket 999 does not exist") { try await admin.merge(c.id, into: 999) }
        let bea = try await world.person("Bea", "Baker")
        let other = try await admin.create("Mail", requester: bea)
        await expectRPCError(.failedPrecondition, mentioning: "merging would show one requester the other's conversation") {
            try await admin.merge(other.id, into: c.id)
        }
        let done = try await admin.create("Old", requester: ada)
        _ = try await admin.setStatus(done.id, .closed)
        await expectRPCError(.failedPrecondition, mentioning: "target_id: ticket \(done.id) is closed") {
            try await admin.merge(c.id, into: done.id)
        }
        await expectRPCError(.failedPrecondition, mentioning: "source_id: ticket \(done.id) is closed") {
            try await admin.merge(done.id, into: c.id)
        }
    }

    @Test func linksKeepOneParentOneOriginalAndNoCycles() async throws {
        let world = try await ServiceWorld.start()
        let admin = world.admin
        let ada = try await world.person("Ada", "Lovelace")
        var t: [Int64] = [0]
        for i in 1...5 { t.append(try await admin.create("Ticket \(i)", requester: ada).id) }
        let parent = try await admin.link(t[1], .parentOf, t[2])
        #expect(parent.ticketID == t[1] && parent.kind == .parentOf && parent.otherID == t[2])
        #expect(try await admin.link(t[1], .parentOf, t[2]) == parent, "linking again changes nothing")
        await expectRPCError(.failedPrecondition, mentioning: "ticket \(t[2]) already has a parent, ticket \(t[1])") {
            try await admin.link(t[3], .parentOf, t[2])
        }
        await expectRPCError(.failedPrecondition, mentioning: "a parent cycle would form") { try await admin.link(t[2], .parentOf, t[1]) }
        try await admin.link(t[2], .parentOf, t[4])
        await expectRPCError(.failedPrecondition, mentioning: "a parent cycle would form") { try await admin.link(t[4], .parentOf, t[1]) }
        try await admin.link(t[3], .related, t[1])
        #expect(try await admin.link(t[1], .related, t[3]).ticketID == t[1], "RELATED is one link either way round")
        try await admin.link(t[4], .duplicateOf, t[3])
        await expectRPCError(.failedPrecondition, mentioning: "ticket \(t[4]) is already a duplicate of ticket \(t[3])") {
            try await admin.link(t[4], .duplicateOf, t[1])
        }
        let fromTwo = try await admin.links(t[2]).links
        #expect(fromTwo.map(\.otherID) == [t[1], t[4]] && fromTwo.map(\.kind) == [.childOf, .parentOf])
        let fromThree = try await admin.links(t[3], pageSize: 1)
        #expect(fromThree.links.map(\.kind) == [.related] && fromThree.links[0].otherID == t[1])
        let nextPage = try await admin.links(t[3], token: fromThree.nextPageToken).links
        #expect(nextPage.map(\.kind) == [.duplicatedBy] && nextPage[0].otherID == t[4])

        await expectRPCError(.invalidArgument, mentioning: "a ticket cannot be linked to itself") { try await admin.link(t[1], .related, t[1]) }
        await expectRPCError(.invalidArgument, mentioning: "a link is RELATED, PARENT_OF or DUPLICATE_OF") {
            try await admin.link(t[1], .childOf, t[5])
        }
        await expectRPCError(.invalidArgument, mentioning: "kind is required") { try await admin.link(t[1], .unspecified, t[5]) }
        await expectRPCError(.notFound, mentioning: "other_id: ticket 999 does not exist") { try await admin.link(t[1], .related, 999) }

        try await admin.unlink(t[3], .related, t[1])
        await expectRPCError(.notFound, mentioning: "no related link") { try await admin.unlink(t[1], .related, t[3]) }

        // A merge hands the source's links to the survivor.
        try await admin.link(t[3], .related, t[5])
        _ = try await admin.merge(t[3], into: t[5])
        let fromFive = try await admin.links(t[5]).links
        #expect(fromFive.map(\.otherID) == [t[4]] && fromFive.map(\.kind) == [.duplicatedBy],
                "t4 now duplicates the survivor; the link between the two merged ones is gone")
        await expectRPCError(.failedPrecondition, mentioning: "was merged into ticket \(t[5])") { try await admin.link(t[3], .related, t[1]) }
    }
}
