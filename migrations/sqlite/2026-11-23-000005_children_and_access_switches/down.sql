DROP TABLE child_restrictions;
DROP TABLE access_switches;
