"""Moving in from spreadsheets (``haven import people|incidents``, the supervisors' import page)
and leaving with one's data (``haven export people``)."""
