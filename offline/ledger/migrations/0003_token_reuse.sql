-- Single-journey tokens are collected at the exit gates, erased and sold
-- again, so one token serial carries many tickets over its life. The
-- unique index of 0002 refused the second of them only when the sale was
-- marked issued, i.e. after the ticket was already on the token: the
-- token and the ledger then disagreed. Whether a token is free to carry a
-- ticket is decided from the token itself, before anything is written.
DROP INDEX sales_token_issued;
CREATE INDEX sales_token ON sales(token_serial);
