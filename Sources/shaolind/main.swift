import ShaolinEngine
print("shaolind")
