/// Which of one topic's events a subscriber may receive (docs/ACCESS.md
/// "Event streams"): decided once per topic and subscriber, then applied to
/// each event from SQLite's column memory without allocating.
public enum EventVisibility: Sendable, Equatable {
    /// None of the topic's events.
    case none
    /// Every event of the topic.
    case all
    /// Events about no record, and events about a record one of these users
    /// owns (UTF-8 names). Empty: only events about no record.
    case owners([[UInt8]])

    /// A record scope, as Rights.reach gives it.
    public enum Reach: Sendable { case none, own, team, all }

    /// The rule: the subscriber needs the topic's read permission (a topic
    /// without one is for administrators only); then its reach for that
    /// permission decides which records' events it sees: all of them, or
    /// those owned by the users in `own` (reach own: the subscriber) or
    /// `team` (reach team: the subscriber and their team-mates).
    public static func decide(readPermission: String?, isAdministrator: Bool,
                              allows: (String) -> Bool, reach: (String) -> Reach,
                              own: [String], team: [String]) -> EventVisibility {
        guard let permission = readPermission, !permission.isEmpty else { return isAdministrator ? .all : .none }
        guard allows(permission) else { return .none }
        switch reach(permission) {
        case .all: return .all
        case .team: return .owners(team.map { Array($0.utf8) })
        case .own: return .owners(own.map { Array($0.utf8) })
        case .none: return .owners([])
        }
    }

    /// Whether one event goes out: `subject` says whether it names a record,
    /// `owner` is that record's owner (nil or empty: it has none, which only
    /// reach all sees).
    public func admits(subject: Bool, owner: UnsafeRawBufferPointer?) -> Bool {
        switch self {
        case .none: return false
        case .all: return true
        case .owners(let names):
            guard subject else { return true }
            guard let owner, owner.count > 0 else { return false }
            for name in names where name.count == owner.count {
                if name.withUnsafeBytes({ $0.elementsEqual(owner) }) { return true }
            }
            return false
        }
    }
}
