import CRMPluginKit
import ContactsContract
import LoyaltyContract

/// Publishes house-account events on the timeline of the account's person
/// or organization and of the member concerned, in the account owner's scope.
enum HouseEvents {
    static func publish(_ ctx: CallContext, _ topic: String, account: Account, posting: Posting? = nil,
                        member: HouseMember? = nil, summary: String) throws {
        var event = Crm_Loyalty_V1_HouseAccountEvent()
        event.account = account
        if let posting { event.posting = posting }
        if let member { event.member = member }
        event.about = About.with {
            var people: [Int64] = []
            if account.personID > 0 { people.append(account.personID) }
            if let member, member.personID > 0, member.personID != account.personID { people.append(member.personID) }
            $0.personIds = people
            if account.organizationID > 0 { $0.organizationIds = [account.organizationID] }
            $0.summary = summary
        }
        // An event naming a member is about the membership, so erasing the
        // member (LoyaltyContacts) redacts it; the others are the account's.
        let subject = member.map { EventSubject(entity: "loyalty.house_member", recordID: "\(account.id):\($0.personID)",
                                                owner: ownerOrNil(account.owner)) }
            ?? EventSubject(entity: "loyalty.account", recordID: String(account.id), owner: ownerOrNil(account.owner))
        _ = try ctx.publish(topic, event, about: subject)
    }
}
