-- The CRM table thulium_crm_sync reads its leads from: `make demo` and the tests load it into
-- SQLite, the system test into PostgreSQL. One lead opted out: it is in crm_opt_outs.csv instead.
CREATE TABLE crm_leads (
    phone_number VARCHAR(20) NOT NULL,
    crm_id VARCHAR(20) NOT NULL,
    stage VARCHAR(20) NOT NULL,
    owner VARCHAR(40),
    next_contact TIMESTAMP
);
INSERT INTO crm_leads VALUES
    ('48600100300', 'C-3000', 'new', NULL, NULL),
    ('48600100301', 'C-3001', 'interested', NULL, NULL),
    ('48600100302', 'C-3002', 'callback', NULL, '2030-08-01 09:00:00'),
    ('48600100303', 'C-3003', 'assigned', 'j.doe', '2030-08-02 10:00:00'),
    ('48600100201', 'C-1014', 'assigned', 'm.nowak', '2030-08-03 11:00:30');
