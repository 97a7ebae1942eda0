import CRMPluginKit

/// The loyalty tables. Times are UTC microseconds; every table carries the
/// `loyalty_` prefix. The ledger's invariants are the database's as well
/// as the code's: a posting is sealed by inserting its row after its
/// entries, and a trigger refuses the seal unless its legs sum to zero per
/// unit and are at least two; entries and postings refuse updates and
/// deletes; a posting is reversed at most once (a unique reference); a
/// customer account's balance less its holds never drops below zero less
/// its credit limit (a CHECK).
enum LoyaltySchema {
    static func register(on def: PluginDefinition) {
        def.migration(1, "ledger", ledger)
        def.migration(2, "gift_cards", GiftCards.schema)
        def.migration(3, "house_accounts", HouseAccounts.schema)
        def.migration(4, "point_lots", PointLots.schema)
        def.migration(5, "programs_and_orders", Programs.schema + OrderStore.schema)
        def.migration(6, "tenders_and_rewards", OrderTenders.schema + Rewards.schema + OrderRewards.schema
                      + OrderStore.birthdayColumn + PointLots.coveringIndexes)
        def.migration(7, "tiers", Tiers.schema)
    }

    static let ledger = """
    CREATE TABLE loyalty_accounts (
        id INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        unit TEXT NOT NULL,
        person_id INTEGER,
        organization_id INTEGER,
        owner TEXT NOT NULL DEFAULT '',
        label TEXT NOT NULL DEFAULT '',
        status INTEGER NOT NULL,
        balance INTEGER NOT NULL DEFAULT 0,
        held INTEGER NOT NULL DEFAULT 0,
        -- How far below zero the available balance may go: a house
        -- account's credit limit; 0 for every other account.
        credit_limit INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
        system_name TEXT,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL,
        CHECK (held >= 0),
        CHECK (kind = 100 OR balance - held >= -credit_limit),
        CHECK ((kind = 100) = (system_name IS NOT NULL))
    );
    CREATE UNIQUE INDEX loyalty_accounts_system ON loyalty_accounts (system_name, unit) WHERE system_name IS NOT NULL;
    CREATE INDEX loyalty_accounts_person ON loyalty_accounts (person_id, id) WHERE person_id IS NOT NULL;

    CREATE TABLE loyalty_postings (
        id INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        reverses_id INTEGER UNIQUE REFERENCES loyalty_postings (id),
        refunds_id INTEGER REFERENCES loyalty_postings (id),
        hold_id INTEGER,
        reason TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL DEFAULT '',
        created_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_postings_refunds ON loyalty_postings (refunds_id) WHERE refunds_id IS NOT NULL;

    -- Entries are written first and their posting row last (the seal), so
    -- the posting reference is checked when the call ends.
    CREATE TABLE loyalty_entries (
        id INTEGER PRIMARY KEY,
        posting_id INTEGER NOT NULL REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        unit TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount <> 0),
        balance_after INTEGER NOT NULL,
        created_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_entries_account ON loyalty_entries (account_id, id);
    CREATE INDEX loyalty_entries_posting ON loyalty_entries (posting_id);

    CREATE TRIGGER loyalty_postings_seal BEFORE INSERT ON loyalty_postings
    WHEN (SELECT count(*) FROM loyalty_entries WHERE posting_id = NEW.id) < 2
      OR EXISTS (SELECT 1 FROM loyalty_entries WHERE posting_id = NEW.id GROUP BY unit HAVING sum(amount) <> 0)
    BEGIN SELECT RAISE(ABORT, 'loyalty: a posting must have two or more legs summing to zero per unit'); END;
    CREATE TRIGGER loyalty_entries_sealed BEFORE INSERT ON loyalty_entries
    WHEN EXISTS (SELECT 1 FROM loyalty_postings WHERE id = NEW.posting_id)
    BEGIN SELECT RAISE(ABORT, 'loyalty: a sealed posting takes no more entries'); END;
    CREATE TRIGGER loyalty_entries_immutable BEFORE UPDATE ON loyalty_entries
    BEGIN SELECT RAISE(ABORT, 'loyalty: ledger entries are immutable'); END;
    CREATE TRIGGER loyalty_entries_kept BEFORE DELETE ON loyalty_entries
    BEGIN SELECT RAISE(ABORT, 'loyalty: ledger entries are immutable'); END;
    CREATE TRIGGER loyalty_postings_kept BEFORE DELETE ON loyalty_postings
    BEGIN SELECT RAISE(ABORT, 'loyalty: postings are immutable'); END;
    -- Only the reason may change, and only to '' (a GDPR erasure).
    CREATE TRIGGER loyalty_postings_immutable BEFORE UPDATE ON loyalty_postings
    WHEN NEW.id IS NOT OLD.id OR NEW.kind IS NOT OLD.kind OR NEW.reverses_id IS NOT OLD.reverses_id
      OR NEW.refunds_id IS NOT OLD.refunds_id OR NEW.hold_id IS NOT OLD.hold_id OR NEW.created_by IS NOT OLD.created_by
      OR NEW.created_us IS NOT OLD.created_us OR (NEW.reason IS NOT OLD.reason AND NEW.reason <> '')
    BEGIN SELECT RAISE(ABORT, 'loyalty: postings are immutable'); END;

    CREATE TABLE loyalty_holds (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        unit TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        status INTEGER NOT NULL,
        captured_amount INTEGER NOT NULL DEFAULT 0,
        capture_posting_id INTEGER REFERENCES loyalty_postings (id),
        memo TEXT NOT NULL DEFAULT '',
        expires_us INTEGER NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_holds_active ON loyalty_holds (account_id, expires_us) WHERE status = 1;
    CREATE INDEX loyalty_holds_expiry ON loyalty_holds (expires_us) WHERE status = 1;

    -- A money-moving call's key, the fingerprint of its request and caller,
    -- and its first answer, replayed to a retry.
    CREATE TABLE loyalty_idempotency (
        method TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        response BLOB NOT NULL,
        sealed INTEGER NOT NULL DEFAULT 0,
        created_us INTEGER NOT NULL,
        PRIMARY KEY (method, key)
    );
    CREATE TABLE loyalty_secrets (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """
}
