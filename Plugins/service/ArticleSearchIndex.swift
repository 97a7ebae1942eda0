import CRMPluginKit

/// One article as the search index holds it: the text readers (or, for a
/// draft, writers) find it by, and what a search filters on.
struct IndexedArticle {
    var id: Int64
    var title: String
    var body: String
    var state: ArticleState
    var categoryID: Int64
    var author: String
}

/// What one search asks of the index. `query` is already parsed (no
/// engine ever sees the user's raw text); `states` are the states the
/// caller may see and asked for; drafts and archived articles further
/// need their author in `authors` unless it is nil (a writer at scope all).
struct ArticleQuery {
    var query: SearchText
    var states: Set<ArticleState>
    var authors: [String]?
    var categoryID: Int64 = 0
    var limit: Int
    /// The previous page's last hit: its score and position.
    var after: (score: Double, position: Int64)?
    var highlight: (start: String, end: String)?
}

struct ArticleSearchHit {
    var id: Int64
    /// The engine's relevance, higher is better.
    var score: Double
    /// The engine's tie-break key: hits of equal score come in ascending
    /// position, and a cursor names the last hit by score and position.
    var position: Int64
    var titleHighlight = ""
    var snippet = ""
}

/// The full-text engine behind the knowledge base. The rest of the module
/// only talks to this, so a later storage engine (PostgreSQL's tsvector,
/// an external search service) provides its own implementation. An
/// implementation must:
/// - keep one document per article: `put` replaces what `remove` drops,
///   inside the caller's transaction (both commit or neither does);
/// - rank best first, ties by ascending `position` (the engine's own key,
///   unique per article), and honour `after` as a keyset cursor (hits
///   strictly after that score and position);
/// - match `SearchText`'s terms against title and body only, never the
///   filters, and never fail on any parsed query (there is no syntax left
///   to get wrong);
/// - return only articles in `states` (and of `authors` for drafts and
///   archived ones when given) and, with a category, of that category.
protocol ArticleSearchIndex: Sendable {
    /// The tables the engine needs, run in the knowledge base's migration.
    var schemaSQL: String { get }
    func put(_ db: Database, _ article: IndexedArticle) throws
    func remove(_ db: Database, id: Int64) throws
    func search(_ db: Database, _ query: ArticleQuery) throws -> [ArticleSearchHit]
}

enum KnowledgeBase {
    /// The engine in use.
    static let index: any ArticleSearchIndex = Fts5ArticleIndex()
}
