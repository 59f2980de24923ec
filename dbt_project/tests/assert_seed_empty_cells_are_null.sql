-- An empty cell of a seed is NULL on every engine (dbt-spark's session seeds once
-- loaded it as the text 'None'): in the shipped taxonomy a group ('it') has no
-- parent and a leaf ('it.hardware') has one, and no parent_id is '' or 'None'.
select *

from {{ ref('taxonomy') }}

where
    parent_id in ('', 'None')
    or (parent_id is null) <> ({{ dbt.position("'.'", 'category_id') }} = 0)
