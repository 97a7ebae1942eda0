import CRMPluginKit
import ServiceContract

typealias Article = Crm_Service_V1_Article
typealias ArticleState = Crm_Service_V1_ArticleState
typealias ArticleRevision = Crm_Service_V1_ArticleRevision

/// What the caller may see and change among articles (docs/SERVICE.md
/// "Knowledge base"): PUBLISHED ones always, INTERNAL ones with
/// service.article.read_internal, drafts and archived ones (and every
/// article's latest revision) where their service.article.write scope
/// reaches the author. Articles are shared content: read permissions are
/// not narrowed by record scope, only the write scope is.
struct ArticleAccess {
    let readsInternal: Bool
    let write: RecordScope

    static let internalPermission = "service.article.read_internal"
    static let writePermission = "service.article.write"
    static let publishPermission = "service.article.publish"

    init(_ ctx: CallContext) {
        readsInternal = ctx.scope(for: Self.internalPermission).reach != .none
        write = ctx.scope(for: Self.writePermission)
    }

    func writes(_ author: String) -> Bool { write.includes(owner: ownerOrNil(author)) }

    /// Writers are staff: any write grant also shows INTERNAL articles.
    var readsLive: Bool { readsInternal || write.reach != .none }

    func sees(_ state: ArticleState, author: String) -> Bool {
        switch state {
        case .published: return true
        case .internal: return readsLive
        default: return writes(author)
        }
    }

    /// The states a caller may see of `asked` (empty: all but ARCHIVED),
    /// and the authors drafts and archived ones must have (nil: any).
    func searchable(_ asked: Set<ArticleState>) -> (states: Set<ArticleState>, authors: [String]?) {
        let wanted: Set<ArticleState> = asked.isEmpty ? [.draft, .internal, .published] : asked
        var states: Set<ArticleState> = [.published]
        if readsLive { states.insert(.internal) }
        if write.reach != .none { states.formUnion([.draft, .archived]) }
        return (wanted.intersection(states), write.reach == .all ? nil : write.owners)
    }

    /// The same rule as SQL on service_kb_articles (alias-free columns).
    func condition() -> (sql: String, parameters: [SQLValue]) {
        var sql = "state = 3"
        if readsLive { sql += " OR state = 2" }
        let drafts = write.condition(ownerColumn: "author")
        if write.reach != .none { sql += " OR (state IN (1, 4) AND \(drafts.sql))" }
        return ("(" + sql + ")", write.reach != .none ? drafts.parameters : [])
    }
}

/// Rows of service_kb_articles and service_kb_revisions.
struct ArticleStore {
    let db: Database

    static let columns = """
        id, category_id, state, author, title, body, revision, live_revision, updated_by, version, created_us, \
        updated_us, published_us, archived_us
        """

    static func decode(_ r: [SQLValue]) -> Article {
        var a = Article()
        a.id = r.int(0)
        a.categoryID = r.int(1)
        a.state = ArticleState(rawValue: Int(truncatingIfNeeded: r.int(2))) ?? .unspecified
        a.author = r.text(3)
        a.title = r.text(4)
        a.body = r.text(5)
        a.revision = Int32(truncatingIfNeeded: r.int(6))
        a.latestRevision = a.revision
        a.liveRevision = Int32(truncatingIfNeeded: r.int(7))
        a.updatedBy = r.text(8)
        a.version = r.int(9)
        a.createdUnixUs = r.int(10)
        a.updatedUnixUs = r.int(11)
        a.publishedUnixUs = r.int(12)
        a.archivedUnixUs = r.int(13)
        return a
    }

    static func missing(_ id: Int64, _ field: String) -> PluginError {
        .notFound("\(field): article \(id) does not exist")
    }

    func load(_ id: Int64) throws -> Article? {
        try db.query("SELECT \(Self.columns) FROM service_kb_articles WHERE id = ?", [.integer(id)]).first.map(Self.decode)
    }

    /// The stored article (latest revision) if the caller may see it;
    /// INVALID_ARGUMENT / NOT_FOUND naming `field` otherwise.
    func require(_ id: Int64, _ field: String, _ access: ArticleAccess) throws -> Article {
        try Validate.positiveID(id, field)
        guard let a = try load(id), access.sees(a.state, author: a.author) else { throw Self.missing(id, field) }
        return a
    }

    /// The article as this caller reads it: writers the latest revision,
    /// readers the live one (title and body from its revision row).
    func view(_ a: Article, _ access: ArticleAccess) throws -> Article {
        if access.writes(a.author) { return a }
        var v = a
        v.latestRevision = 0
        v.updatedBy = ""
        v.revision = a.liveRevision
        if a.liveRevision != a.revision, let r = try revision(a.id, a.liveRevision) {
            v.title = r.title
            v.body = r.body
        }
        return v
    }

    func revision(_ article: Int64, _ number: Int32) throws -> ArticleRevision? {
        try db.query("SELECT number, title, body, saved_by, saved_us FROM service_kb_revisions WHERE article_id = ? AND number = ?",
                     [.integer(article), .integer(Int64(number))]).first.map { Self.decodeRevision(article, $0) }
    }

    static func decodeRevision(_ article: Int64, _ r: [SQLValue]) -> ArticleRevision {
        var v = ArticleRevision()
        v.articleID = article
        v.number = Int32(truncatingIfNeeded: r.int(0))
        v.title = r.text(1)
        v.body = r.text(2)
        v.savedBy = r.text(3)
        v.savedUnixUs = r.int(4)
        return v
    }

    func insert(_ a: inout Article) throws {
        a.id = try db.execute("""
            INSERT INTO service_kb_articles (category_id, state, author, title, body, revision, live_revision, updated_by,
                version, created_us, updated_us, published_us, archived_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(a.categoryID), .integer(Int64(a.state.rawValue)), .text(a.author), .text(a.title), .text(a.body),
                  .integer(Int64(a.revision)), .integer(Int64(a.liveRevision)), .text(a.updatedBy), .integer(a.version),
                  .integer(a.createdUnixUs), .integer(a.updatedUnixUs), .integer(a.publishedUnixUs),
                  .integer(a.archivedUnixUs)]).lastInsertID
    }

    func save(_ a: Article) throws {
        try db.execute("""
            UPDATE service_kb_articles SET category_id = ?, state = ?, title = ?, body = ?, revision = ?, live_revision = ?,
                updated_by = ?, version = ?, updated_us = ?, published_us = ?, archived_us = ? WHERE id = ?
            """, [.integer(a.categoryID), .integer(Int64(a.state.rawValue)), .text(a.title), .text(a.body),
                  .integer(Int64(a.revision)), .integer(Int64(a.liveRevision)), .text(a.updatedBy), .integer(a.version),
                  .integer(a.updatedUnixUs), .integer(a.publishedUnixUs), .integer(a.archivedUnixUs), .integer(a.id)])
    }

    /// Keeps `a`'s latest title and body as its revision `a.revision`.
    func addRevision(_ a: Article) throws {
        try db.execute("INSERT INTO service_kb_revisions (article_id, number, title, body, saved_by, saved_us) VALUES (?, ?, ?, ?, ?, ?)",
                       [.integer(a.id), .integer(Int64(a.revision)), .text(a.title), .text(a.body), .text(a.updatedBy),
                        .integer(a.updatedUnixUs)])
    }

    /// Puts the article in the search index as readers find it: a live
    /// article by its live revision, any other by its latest.
    func reindex(_ a: Article) throws {
        var title = a.title, body = a.body
        if a.state == .published || a.state == .internal, a.liveRevision != a.revision,
           let live = try revision(a.id, a.liveRevision) {
            title = live.title
            body = live.body
        }
        try KnowledgeBase.index.put(db, IndexedArticle(id: a.id, title: title, body: body, state: a.state,
                                                       categoryID: a.categoryID, author: a.author))
    }
}
